"""Every sandbox has a Runtime API endpoint of its own: nothing a retired runtime sends reaches the next one.

Driven at the HTTP adapter with raw sockets, so the order of events is the test's, not the scheduler's."""

from __future__ import annotations

import asyncio
import socket

import pytest

from coldlab.runtime.core import RuntimeReady, RuntimeState
from coldlab.runtime.model import Invocation
from coldlab.runtime.server import PlatformEffect, RuntimeApiServer
from support.runtime_scripts import run

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"


def invocation(request_id: str) -> Invocation:
    return Invocation(request_id, b"{}", 2**42, "arn:aws:lambda:us-east-1:123456789012:function:f", "Root=1")


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = address.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def status_line(reader: asyncio.StreamReader) -> bytes:
    return (await asyncio.wait_for(reader.readline(), 10)).strip()


async def reply_or_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """The status line the server answered with, or b"" when it closed the connection instead."""
    try:
        await writer.drain()
        return await status_line(reader)
    except (ConnectionError, asyncio.IncompleteReadError):
        return b""


def test_an_old_keep_alive_connection_is_hung_up_and_never_takes_the_next_invocation() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server = RuntimeApiServer(effects.append)
        await server.start()
        old = await server.open_endpoint()
        server.reset(old)
        reader, writer = await connect(old)  # the old runtime's keep-alive connection, idle between requests
        new = await server.open_endpoint()
        assert new != old
        server.reset(new)  # the old runtime was killed; a new one starts on its own endpoint
        writer.write(NEXT)  # what a killed runtime's connection sent a few ms after the reset
        answer = await reply_or_hang_up(reader, writer)
        assert answer in {b"", b"HTTP/1.1 403 Forbidden"}  # hung up, or refused if it was read first
        assert effects == []  # the core never heard of it
        assert server.core.state is RuntimeState.STARTED
        with pytest.raises(OSError):  # the old port no longer listens: a reconnect is refused
            await connect(old)
        # The new runtime's own poll gets the invocation.
        server.submit(invocation("for-the-new-runtime"))
        reader2, writer2 = await connect(new)
        writer2.write(NEXT)
        assert (await status_line(reader2)).startswith(b"HTTP/1.1 200")
        assert effects == [RuntimeReady(first=True)]
        writer2.close()
        await server.close()

    run(scenario())


def test_a_request_on_a_prepared_but_not_current_endpoint_is_refused() -> None:
    async def scenario() -> None:
        effects: list[PlatformEffect] = []
        server = RuntimeApiServer(effects.append)
        await server.start()
        current = await server.open_endpoint()
        server.reset(current)
        spare = await server.open_endpoint()  # the next sandbox's endpoint, ready before its bootstrap runs
        reader, writer = await connect(spare)
        writer.write(NEXT)
        assert (await status_line(reader)).startswith(b"HTTP/1.1 403")
        assert effects == []
        server.retire()  # the current runtime died: nothing reaches the core until the next reset
        host, _, port = current.rpartition(":")
        probe = socket.socket()
        with pytest.raises(OSError):
            probe.connect((host, int(port)))
        probe.close()
        writer.close()
        await server.close()

    run(scenario())
