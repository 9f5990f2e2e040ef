"""A small HTTP/1.1 layer: the Runtime API server, and the gateway's fast path for invokes (httptools).

Why not aiohttp here: the Runtime API is a handful of fixed routes on loopback with three exchanges per
warm invoke, and aiohttp's machinery around each of them (a task per request, routing, middlewares,
StreamResponse) was the largest share of `coldlab serve`'s CPU per invoke. This layer does what the
Runtime API needs and nothing else: Content-Length and chunked bodies (kept up to a cap, the whole size
counted), keep-alive, `Expect: 100-continue`, replies given at once or later (a long poll's Pending is
written the moment it is resolved), and hanging up every connection that arrived on one listening port.
"""

from __future__ import annotations

import asyncio
import functools
import http
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import TypeAlias, cast

import httptools

from coldlab.errors import RuntimeApiError


@dataclass(slots=True)
class Request:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # names lower-cased
    port: int  # the local port it arrived on (which sandbox's endpoint)
    body: bytes = b""  # at most the server's cap (plus one chunk: enough to tell it was over)
    size: int = 0  # the whole body, however much of it was kept

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    close: bool = False  # hang up after it


class Pending:
    """A reply given later (a long poll). `resolve` writes it at once, inside the caller's own step (no
    future, no loop turn in between); `on_abandon` runs instead if the connection goes away first."""

    __slots__ = ("_abandoned", "_early", "_send", "done")

    def __init__(self, on_abandon: Callable[[], None] | None = None) -> None:
        self._abandoned = on_abandon
        self._send: Callable[[Reply], None] | None = None
        self._early: Reply | None = None
        self.done = False

    def resolve(self, reply: Reply) -> None:
        if self.done:
            return
        self.done = True
        if self._send is None:
            self._early = reply
        else:
            self._send(reply)

    def attach(self, send: Callable[[Reply], None]) -> None:
        """Where the reply goes (the connection); sent now if it was given already."""
        if self._early is not None:
            send(self._early)
        elif not self.done:
            self._send = send

    def abandon(self) -> None:
        if not self.done:
            self.done = True
            if self._abandoned is not None:
                self._abandoned()


Answer: TypeAlias = "Reply | Pending"  # a reply now, or one a long poll gives later
Handler = Callable[[Request], Answer]
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}
_date_cache = [0, ""]  # the Date header, formatted once a second


def _http_date() -> str:
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, formatdate(now, usegmt=True)]
    return str(_date_cache[1])


def _clean(value: str) -> str:
    """A header value on one line (a value never splits the response)."""
    return value.replace("\r", " ").replace("\n", " ") if ("\r" in value or "\n" in value) else value


def encode(reply: Reply, keep_alive: bool = True) -> bytes:
    lines = [
        f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
        f"Date: {_http_date()}",
    ]
    lines.extend(f"{name}: {_clean(value)}" for name, value in reply.headers.items())
    if reply.close or not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + reply.body


class HttpServer:
    """Listening sockets on 127.0.0.1 that share one handler; connections are known by their local port."""

    def __init__(self, handler: Handler, *, body_cap: int) -> None:
        self.handler = handler
        self.body_cap = body_cap
        self._listeners: dict[int, asyncio.Server] = {}
        self.connections: set[Connection] = set()

    async def listen(self) -> int:
        """A new listening port (chosen by the OS)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            listener = await asyncio.get_running_loop().create_server(lambda: Connection(self), sock=sock)
        except OSError as exc:
            sock.close()
            raise RuntimeApiError(f"could not start the Runtime API on 127.0.0.1: {exc}") from exc
        port: int = sock.getsockname()[1]
        self._listeners[port] = listener
        return port

    def close_port(self, port: int) -> None:
        """Stop listening on `port` and abort every connection that came in on it."""
        listener = self._listeners.pop(port, None)
        if listener is not None:
            listener.close()
        for connection in [c for c in self.connections if c.port == port]:
            connection.abort()

    def close(self) -> None:
        for port in list(self._listeners):
            self.close_port(port)
        for connection in list(self.connections):
            connection.abort()


class Connection(asyncio.Protocol):
    """One client connection: requests are answered in the order they came (a long poll holds the rest)."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self.port = 0
        self._pending: deque[Request] = deque()  # complete requests waiting for the one being answered
        self._waiting: Pending | None = None
        self._request: Request | None = None  # the one being parsed
        self._url = b""
        self._chunks: list[bytes] = []
        self._kept = 0

    # --- asyncio.Protocol --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's transports are not subclasses
        name = transport.get_extra_info("sockname")
        self.port = name[1] if isinstance(name, tuple) else 0
        self._server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(Reply(400, b"upgrades are not served here", "text/plain; charset=utf-8"))
        except httptools.HttpParserError as exc:
            self._refuse(Reply(400, f"bad request: {exc}".encode(), "text/plain; charset=utf-8"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        self._pending.clear()
        if self._waiting is not None:
            self._waiting.abandon()  # the handler's clean-up (a long poll abandoned)
        self._waiting = None

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- httptools callbacks -------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._request = Request("", "", {}, self.port)
        self._chunks, self._kept = [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._request is not None
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self._request.headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        request = self._request
        assert request is not None
        request.method = self._parser.get_method().decode("latin-1")
        request.path = self._url.split(b"?", 1)[0].decode("latin-1")
        if request.headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self._request
        assert request is not None
        request.size += len(body)
        if self._kept <= self._server.body_cap:
            self._chunks.append(body)
            self._kept += len(body)

    def on_message_complete(self) -> None:
        request = self._request
        assert request is not None
        self._request = None
        request.body = b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks = []
        if not self._parser.should_keep_alive():
            request.headers["connection"] = "close"
        if self._waiting is not None:
            self._pending.append(request)
        else:
            self._dispatch(request)

    # --- answering -------------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> None:
        while True:
            answer = self._server.handler(request)
            if isinstance(answer, Pending):
                self._waiting = answer
                answer.attach(functools.partial(self._answered, request))
                return
            self._send(answer, _keeps_alive(request))
            if not self._pending or self._transport is None:
                return
            request = self._pending.popleft()

    def _answered(self, request: Request, reply: Reply) -> None:
        self._waiting = None
        self._send(reply, _keeps_alive(request))
        if self._pending and self._transport is not None:
            self._dispatch(self._pending.popleft())

    def _send(self, reply: Reply, keep_alive: bool) -> None:
        if self._transport is None:
            return
        self._transport.write(encode(reply, keep_alive))
        if reply.close or not keep_alive:
            self._transport.close()
            self._transport = None

    def _refuse(self, reply: Reply) -> None:
        self._send(reply, keep_alive=False)


def _keeps_alive(request: Request) -> bool:
    return request.headers.get("connection", "").lower() != "close"
