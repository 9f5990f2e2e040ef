"""The gateway's front door: plain invokes are answered on the listening socket itself, anything else is
handed to aiohttp from that request on. Raw sockets, so the test chooses what travels on one connection."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import quote

from support.runtime_scripts import write_script_bootstrap
from support.serve import ServeProcess

ECHO = """
while True:
    rid, headers, body = next_event()
    event = json.loads(body)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        call("POST", f"/invocation/{rid}/error", b'{"errorMessage": "no", "errorType": "Nope"}')
        continue
    respond(rid, json.dumps({"echo": event, "rid": rid}).encode())
"""
INVOKE = "/2015-03-31/functions/{name}/invocations"


def invoke_request(payload: bytes, name: str = "echo", extra: str = "", target: str | None = None) -> bytes:
    path = target or INVOKE.format(name=name)
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n{extra}\r\n"
    return head.encode() + payload


def read_reply(sock: socket.socket, buffered: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One response (Content-Length framed) from `sock`, keeping what follows it in `buffered`."""
    while b"\r\n\r\n" not in buffered:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffered += chunk
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buffered[:] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length]


def serve(tmp_path: Path) -> ServeProcess:
    code = write_script_bootstrap(tmp_path / "echo", ECHO)
    server = ServeProcess(str(code), "--timeout", "10", cwd=tmp_path)
    server.wait_listening()
    return server


def connect(server: ServeProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    sock.sendall(request)
    return read_reply(sock, bytearray())


def shape(reply: tuple[int, dict[str, str], bytes]) -> tuple[int, str, str, str | None, str | None]:
    """What a client reads of a reply, without what differs per call (ids, dates)."""
    status, headers, _ = reply
    return (
        status,
        headers["content-type"],
        headers.get("x-amz-executed-version", ""),
        headers.get("x-amz-function-error"),
        headers.get("x-amzn-errortype"),
    )


def test_a_fresh_connection_and_one_aiohttp_serves_answer_every_invoke_alike(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        fast = connect(server)
        slow = connect(server)
        status = exchange(slow, b"GET /_coldlab/status HTTP/1.1\r\nHost: x\r\n\r\n")  # aiohttp's from now on
        assert status[0] == 200
        cases = [
            invoke_request(b'{"n": 1}'),
            invoke_request(b'{"fail": true}'),
            invoke_request(b"{}", name="nobody"),
            invoke_request(b"not json"),
            invoke_request(b'{"n": 2}', target=INVOKE.format(name="echo") + "?Qualifier=%24LATEST"),
            invoke_request(b'{"n": 3}', extra="X-Amz-Client-Context: not-base64\r\n"),
        ]
        for request in cases:
            ours, theirs = exchange(fast, request), exchange(slow, request)
            assert shape(ours) == shape(theirs), request
            if ours[0] == 200 and b"echo" in ours[2]:
                assert json.loads(ours[2])["echo"] == json.loads(theirs[2])["echo"]
                assert ours[1]["x-amzn-requestid"] == json.loads(ours[2])["rid"]
            elif ours[0] != 200:
                assert json.loads(ours[2]).keys() == json.loads(theirs[2]).keys()
        assert shape(exchange(fast, cases[0])) == (200, "application/json", "$LATEST", None, None)
        assert shape(exchange(fast, cases[1]))[3] == "Unhandled"
        assert shape(exchange(fast, cases[2]))[::4] == (404, "ResourceNotFoundException")
        assert shape(exchange(fast, cases[3]))[::4] == (400, "InvalidRequestContentException")
        fast.close()
        slow.close()


def test_one_connection_carries_invokes_then_the_control_plane_then_invokes_again(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        sock = connect(server)
        assert exchange(sock, invoke_request(b'{"n": 1}'))[0] == 200  # the front door's
        got = exchange(sock, b"GET /2015-03-31/functions/echo HTTP/1.1\r\nHost: x\r\n\r\n")  # aiohttp's
        assert (got[0], json.loads(got[2])["Configuration"]["FunctionName"]) == (200, "echo")
        again = exchange(sock, invoke_request(b'{"n": 2}'))
        assert (again[0], json.loads(again[2])["echo"]) == (200, {"n": 2})
        sock.close()


def test_pipelined_invokes_are_answered_in_order_and_connection_close_is_honoured(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        sock = connect(server)
        arn = quote("arn:aws:lambda:us-east-1:123456789012:function:echo", safe="")
        sock.sendall(
            invoke_request(b'{"n": 1}')
            + invoke_request(b'{"n": 2}', target=INVOKE.format(name=arn))
            + invoke_request(b'{"n": 3}', extra="Connection: close\r\n")
        )
        buffered = bytearray()
        replies = [read_reply(sock, buffered) for _ in range(3)]
        assert [json.loads(body)["echo"]["n"] for _, _, body in replies] == [1, 2, 3]
        assert replies[2][1]["connection"] == "close"
        assert sock.recv(1) == b""  # closed after the last
        sock.close()


def test_a_client_that_hangs_up_mid_invoke_leaves_the_environment_to_the_next(tmp_path: Path) -> None:
    with serve(tmp_path) as server:
        sock = connect(server)
        sock.sendall(invoke_request(b'{"sleep": 1}'))
        server.wait_for(lambda: server.function("echo")["concurrency"] == 1, "the invoke to run")
        sock.close()  # gone before the answer
        server.wait_for(
            lambda: [e["state"] for e in server.function("echo")["environments"]] == ["idle-frozen"],
            "the environment to come back idle",
        )
        started = time.monotonic()
        fresh = connect(server)
        assert exchange(fresh, invoke_request(b'{"n": 4}'))[0] == 200
        assert time.monotonic() - started < 30
        counts = server.function("echo")["counts"]
        assert (counts["invokes"], counts["cold_starts"]) == (2, 1)
        fresh.close()


def test_sequential_invokes_find_one_warm_environment(tmp_path: Path) -> None:
    """The caller's next invoke can arrive before the runtime is back on /next (loopback is faster than
    the runtime's turn): it is queued on that environment, not given a new one."""
    with serve(tmp_path) as server:
        sock = connect(server)
        for n in range(40):
            assert exchange(sock, invoke_request(json.dumps({"n": n}).encode()))[0] == 200
        function = server.function("echo")
        assert len(function["environments"]) == 1
        assert (function["counts"]["cold_starts"], function["counts"]["throttles"]) == (1, 0)
        sock.close()
