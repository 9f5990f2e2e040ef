"""The gateway's listening socket: plain synchronous invokes answered here, every other request by aiohttp.

A warm invoke through aiohttp costs a task per request, routing, the middleware and a StreamResponse on the
way in and out; that was most of what `coldlab serve` spent per invoke after the Runtime API's own share was
gone. A connection starts here: each request whose head is a plain `POST /2015-03-31/functions/NAME/
invocations` (HTTP/1.1, a Content-Length within 6 MB, RequestResponse, no log tail) is run through the
Invoke API's own code (invoke_api.invoke_now) and its reply written the moment the runtime posts its answer.
At the first request that is anything else (the control plane, the status page, a URL, chunked bodies,
`Expect`, an Event or DryRun invoke) the connection is handed, from that request's first byte, to aiohttp for
good: what aiohttp serves is served exactly as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import parse_qs, unquote

from coldlab.gateway.invoke_api import SYNC_MAX_BYTES, invoke_now
from coldlab.http11 import Reply, encode
from coldlab.platform.service import LambdaService

_PREFIX = b"/2015-03-31/functions/"
_SUFFIX = "/invocations"
_MAX_HEAD = 64 * 1024
_NOT_FAST = frozenset({"transfer-encoding", "expect", "upgrade"})


@dataclass(frozen=True, slots=True)
class FastInvoke:
    name: str
    qualifier: str | None
    length: int
    client_context: str | None
    close: bool  # the client asked to close after it


def _invoke_target(request_line: bytes) -> tuple[str, str] | None:
    """(function name as sent, query) of `POST /2015-03-31/functions/NAME/invocations HTTP/1.1`."""
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[0] != b"POST" or parts[2] != b"HTTP/1.1" or not parts[1].startswith(_PREFIX):
        return None
    path, _, query = parts[1].decode("latin-1").partition("?")
    name = path[len(_PREFIX) :]
    if not name.endswith(_SUFFIX) or "/" in name[: -len(_SUFFIX)] or name == _SUFFIX:
        return None
    return name[: -len(_SUFFIX)], query


def _plain_headers(lines: list[bytes]) -> dict[str, str] | None:
    """Header names lower-cased; None for anything the fast path leaves to aiohttp (folded or odd lines, a
    repeated name, chunked bodies, Expect, Upgrade)."""
    headers: dict[str, str] = {}
    for line in lines:
        key, colon, value = line.partition(b":")
        if not colon or not key or key[-1:] in (b" ", b"\t") or line[:1] in (b" ", b"\t"):
            return None
        name = key.decode("latin-1").lower()
        if name in headers or name in _NOT_FAST:
            return None
        headers[name] = value.strip().decode("latin-1")
    return headers


def parse_fast(head: bytes) -> FastInvoke | None:
    """The invoke a request head asks for, or None when it is not one the fast path takes."""
    lines = head.split(b"\r\n")
    target = _invoke_target(lines[0])
    headers = _plain_headers(lines[1:]) if target is not None else None
    if target is None or headers is None:
        return None
    plain = headers.get("x-amz-invocation-type", "RequestResponse") == "RequestResponse"
    length = headers.get("content-length", "0")
    if not plain or headers.get("x-amz-log-type") == "Tail" or not length.isdigit():
        return None
    if int(length) > SYNC_MAX_BYTES:
        return None  # aiohttp refuses it (413) before reading it
    qualifiers = parse_qs(target[1]).get("Qualifier") if target[1] else None
    return FastInvoke(
        unquote(target[0]),
        qualifiers[0] if qualifiers else None,
        int(length),
        headers.get("x-amz-client-context"),
        headers.get("connection", "").lower() == "close",
    )


class FrontDoor(asyncio.Protocol):
    """One client connection of the gateway's port (see the module's docstring)."""

    def __init__(
        self,
        service: LambdaService,
        aiohttp_protocol: Callable[[], asyncio.Protocol],
        connections: set[FrontDoor],
    ) -> None:
        self._service = service
        self._aiohttp_protocol = aiohttp_protocol
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._answering = False  # a reply is owed: later requests wait in the buffer, in order
        self._reading = False  # inside _next_request (a reply sent at once must not re-enter it)
        self._close_after = False
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # at connection_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's transports are not subclasses
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._answering:
            self._next_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._transport = None  # an invoke under way goes on in the pool; its answer has nowhere to go
        if not self.closed.done():
            self.closed.set_result(None)

    def finish(self) -> None:
        """The server is stopping: hang up now if idle, else right after the reply that is owed."""
        self._buffer.clear()
        if not self._answering and self._transport is not None:
            self._transport.close()
        self._close_after = True

    def _next_request(self) -> None:
        self._reading = True
        try:
            self._read_requests()
        finally:
            self._reading = False

    def _read_requests(self) -> None:
        while self._transport is not None and self._buffer and not self._answering:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    self._hand_over()
                return
            invoke = parse_fast(bytes(self._buffer[:end]))
            if invoke is None:
                self._hand_over()
                return
            body_end = end + 4 + invoke.length
            if len(self._buffer) < body_end:
                return  # the rest of the body is still on its way
            payload = bytes(self._buffer[end + 4 : body_end])
            del self._buffer[:body_end]
            self._answering, self._close_after = True, invoke.close
            invoke_now(
                self._service,
                invoke.name,
                qualifier=invoke.qualifier,
                payload=payload,
                raw_client_context=invoke.client_context,
                send=self._reply,
            )

    def _reply(self, reply: Reply) -> None:
        self._answering = False
        transport = self._transport
        if transport is None:
            return
        transport.write(encode(reply, keep_alive=not self._close_after))
        if self._close_after:
            transport.close()
            self._transport = None
            return
        if self._buffer and not self._reading:
            self._next_request()

    def _hand_over(self) -> None:
        """From the request at the start of the buffer on, aiohttp owns this connection."""
        transport = self._transport
        if transport is None:
            return
        self._transport = None
        self._connections.discard(self)
        protocol = self._aiohttp_protocol()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        data, self._buffer = bytes(self._buffer), bytearray()
        if data:
            protocol.data_received(data)
