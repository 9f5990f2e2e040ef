"""The Runtime API's own HTTP/1.1 layer (coldlab/http11.py), driven with raw sockets: the framing real
runtimes use (Content-Length, chunked, Expect: 100-continue, keep-alive, pipelining, Connection: close) and
what it answers to requests it does not serve."""

from __future__ import annotations

import asyncio
import json

from coldlab.runtime.core import Resolved, RuntimeReady
from coldlab.runtime.model import MAX_RESPONSE_BYTES, Invocation
from coldlab.runtime.server import PlatformEffect, RuntimeApiServer
from support.runtime_scripts import run

BASE = "/2018-06-01/runtime/invocation"
NEXT = f"GET {BASE}/next HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def invocation(request_id: str, payload: bytes = b'{"n":1}') -> Invocation:
    return Invocation(request_id, payload, 2**42, "arn:aws:lambda:us-east-1:123456789012:function:f", "Root=1")


async def read_reply(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body: (status, headers lower-cased, body)."""
    status_line = await asyncio.wait_for(reader.readline(), 10)
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def started(effects: list[PlatformEffect]) -> tuple[RuntimeApiServer, str]:
    server = RuntimeApiServer(effects.append)
    await server.start()
    address = await server.open_endpoint()
    server.reset(address)
    return server, address


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = address.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def delivered(
    server: RuntimeApiServer, address: str, request_id: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A runtime's connection that has just taken invocation `request_id` from /next."""
    server.submit(invocation(request_id))
    reader, writer = await connect(address)
    writer.write(NEXT)
    assert (await read_reply(reader))[0] == 200
    return reader, writer


def test_next_delivers_the_event_with_its_headers_and_a_chunked_response_is_read_whole() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server, address = await started(effects)
        reader, writer = await connect(address)
        writer.write(NEXT)
        await asyncio.sleep(0.05)  # parked: nothing queued yet
        server.submit(invocation("req-1"))
        status, headers, body = await read_reply(reader)
        assert (status, body) == (200, b'{"n":1}')
        assert headers["lambda-runtime-aws-request-id"] == "req-1"
        assert headers["lambda-runtime-deadline-ms"] == str(2**42)
        assert headers["content-type"] == "application/json"
        # aws-lambda-go's streaming responses and many clients send chunked bodies
        chunks = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        writer.write(
            f"POST {BASE}/req-1/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + chunks
        )
        status, _, body = await read_reply(reader)
        assert (status, json.loads(body)) == (202, {"status": "OK"})
        resolved = [e for e in effects if isinstance(e, Resolved)]
        assert [r.outcome.payload for r in resolved] == [b"hello world"]
        writer.close()
        await server.close()

    run(scenario())


def test_expect_100_continue_is_answered_before_the_body_is_sent() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server, address = await started(effects)
        reader, writer = await delivered(server, address, "req-2")
        writer.write(
            f"POST {BASE}/req-2/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert await asyncio.wait_for(reader.readline(), 10) == b"HTTP/1.1 100 Continue\r\n"
        assert await reader.readline() == b"\r\n"
        writer.write(b"{}")
        assert (await read_reply(reader))[0] == 202
        writer.close()
        await server.close()

    run(scenario())


def test_pipelined_requests_are_answered_in_order_on_one_connection() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server, address = await started(effects)
        server.submit(invocation("req-3"))
        reader, writer = await connect(address)
        ping = b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = f"POST {BASE}/req-3/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        writer.write(NEXT + answer + ping)  # all three in one write
        replies = [await read_reply(reader) for _ in range(3)]
        assert [status for status, _, _ in replies] == [200, 202, 200]
        assert replies[2][2] == b"pong"
        assert effects[0] == RuntimeReady(first=True)
        writer.close()
        await server.close()

    run(scenario())


def test_connection_close_is_honoured_and_unknown_requests_get_404_or_405() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server, address = await started(effects)
        reader, writer = await connect(address)
        writer.write(b"GET /2018-06-01/nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_reply(reader))[:1] == (404,)
        writer.write(f"DELETE {BASE}/next HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await read_reply(reader))[:1] == (405,)
        writer.write(f"GET {BASE}/req-9/response HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert (await read_reply(reader))[:1] == (405,)
        writer.write(b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, _ = await read_reply(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert await asyncio.wait_for(reader.read(), 10) == b""  # and the server hung up
        assert effects == []
        await server.close()

    run(scenario())


def test_a_malformed_request_gets_400_and_the_connection_is_closed() -> None:
    async def scenario() -> None:
        server, address = await started([])
        reader, writer = await connect(address)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        status, _, _ = await read_reply(reader)
        assert status == 400
        assert await asyncio.wait_for(reader.read(), 10) == b""
        await server.close()

    run(scenario())


def test_a_response_over_the_limit_is_counted_whole_but_not_kept() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server, address = await started(effects)
        reader, writer = await delivered(server, address, "req-4")
        size = MAX_RESPONSE_BYTES + 1
        writer.write(f"POST {BASE}/req-4/response HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
        writer.write(b"x" * size)
        status, _, body = await read_reply(reader)
        assert status == 413
        assert json.loads(body)["errorType"] == "RequestEntityTooLarge"
        writer.close()
        await server.close()

    run(scenario())


def test_a_parked_poll_whose_connection_goes_away_is_abandoned_and_the_event_waits_for_the_next() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server, address = await started(effects)
        _, writer = await connect(address)
        writer.write(NEXT)
        await asyncio.sleep(0.05)
        writer.close()  # the poller died before anything was queued
        await asyncio.sleep(0.05)
        server.submit(invocation("req-5"))
        reader2, writer2 = await connect(address)
        writer2.write(NEXT)
        status, headers, _ = await read_reply(reader2)
        assert (status, headers["lambda-runtime-aws-request-id"]) == (200, "req-5")
        writer2.close()
        await server.close()

    run(scenario())
