"""The Runtime API over HTTP: a thin aiohttp adapter around RuntimeApiCore.

Each request becomes one call into the core; the returned effects are carried out here (HTTP replies) or
handed to the platform through `on_effect` (runtime ready, invocation resolved, init failed).

Every sandbox gets an endpoint of its own (a listening port, named in its AWS_LAMBDA_RUNTIME_API), and only
requests that arrive on the current sandbox's endpoint reach the core. A killed runtime's keep-alive
connection, a reconnect after the kill, or a child that outlived its parent cannot touch the next sandbox's
state: its connections are closed when its sandbox is retired, its port stops listening, and anything that
still arrives on an old port is refused (measured before this: a stale `GET /next` swallowed the next
sandbox's invocation in 3-8 runs of 10).

The Extensions API (2020-01-01) and the Telemetry API (2022-07-01, and the Logs API 2020-08-15) are served on
the same endpoint, as Lambda serves them on AWS_LAMBDA_RUNTIME_API: their cores (extensions.py) are reset with
the runtime's, so an extension of an old sandbox is refused like its runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from coldlab.errors import RuntimeApiError
from coldlab.runtime.core import (
    Deliver,
    Effect,
    InitFailed,
    Reply,
    Resolved,
    RuntimeApiCore,
    RuntimeReady,
)
from coldlab.runtime.extensions import (
    EXTENSIONS_API_VERSION,
    ExtDeliver,
    ExtEffect,
    ExtensionFailed,
    ExtensionRegistered,
    ExtensionsCore,
    ExtensionWaiting,
    ExtReply,
    FunctionFacts,
)
from coldlab.runtime.model import API_VERSION, MAX_RESPONSE_BYTES, Invocation
from coldlab.runtime.telemetry import (
    LOGS_API_VERSION,
    TELEMETRY_API_VERSION,
    Subscription,
    SubscriptionError,
    parse_subscription,
)


@dataclass(frozen=True)
class Subscribed:
    """An extension subscribed to the Telemetry (or Logs) API."""

    subscription: Subscription


PlatformEffect = (
    RuntimeReady
    | Resolved
    | InitFailed
    | ExtensionRegistered
    | ExtensionWaiting
    | ExtensionFailed
    | Subscribed
)
_EXT = f"/{EXTENSIONS_API_VERSION}/extension"
_EXT_ID = "Lambda-Extension-Identifier"
_EXT_ERROR_TYPE = "Lambda-Extension-Function-Error-Type"
_BASE = f"/{API_VERSION}/runtime"
_OK = json.dumps({"status": "OK"}).encode()
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"


def _RESET_REPLY() -> web.Response:  # noqa: N802 - reads as a constant reply
    body = {"errorMessage": "Internal Server Error", "errorType": "InternalServerError"}
    return web.Response(status=500, body=json.dumps(body).encode(), content_type="application/json")


def _stale_reply(request: web.Request) -> web.Response:
    """For a request from a sandbox that is no longer current: refused, and its connection closed."""
    body = {"errorMessage": "This runtime's execution environment is gone", "errorType": "InvalidRuntime"}
    response = web.Response(status=403, body=json.dumps(body).encode(), content_type="application/json")
    response.force_close()
    return response


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def _local_port(transport: asyncio.BaseTransport) -> int | None:
    name = transport.get_extra_info("sockname")
    return name[1] if isinstance(name, tuple) else None


class RuntimeApiServer:
    """Serves one execution environment's Runtime API on 127.0.0.1 (port chosen by the OS)."""

    def __init__(
        self, on_effect: Callable[[PlatformEffect], None], *, facts: FunctionFacts | None = None
    ) -> None:
        self._on_effect = on_effect
        self.core = RuntimeApiCore()
        self._facts = facts or FunctionFacts("coldlab-function", "$LATEST", "bootstrap", "123456789012")
        self.extensions = ExtensionsCore(self._facts)
        self._tokens = itertools.count(1)
        self._parked: dict[int, asyncio.Future[web.StreamResponse]] = {}
        self._runner: web.AppRunner | None = None
        self._listeners: dict[int, asyncio.Server] = {}  # port -> its listening server
        self._current_port: int | None = None  # the endpoint whose requests reach the core

    async def start(self) -> None:
        """Set the application up; endpoints are opened per sandbox with `open_endpoint`."""
        app = web.Application(client_max_size=MAX_RESPONSE_BYTES + 1)
        app.router.add_get(f"{_BASE}/invocation/next", self._next)
        app.router.add_post(f"{_BASE}/invocation/{{request_id}}/response", self._response)
        app.router.add_post(f"{_BASE}/invocation/{{request_id}}/error", self._error)
        app.router.add_post(f"{_BASE}/init/error", self._init_error)
        app.router.add_get(f"/{API_VERSION}/ping", self._ping)
        app.router.add_post(f"{_EXT}/register", self._ext_register)
        app.router.add_get(f"{_EXT}/event/next", self._ext_next)
        app.router.add_post(f"{_EXT}/init/error", self._ext_init_error)
        app.router.add_post(f"{_EXT}/exit/error", self._ext_exit_error)
        app.router.add_put(f"/{TELEMETRY_API_VERSION}/telemetry", self._subscribe)
        app.router.add_put(f"/{LOGS_API_VERSION}/logs", self._subscribe_logs)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()

    async def open_endpoint(self) -> str:
        """Listen on a new port of 127.0.0.1 for one sandbox; `host:port` for its AWS_LAMBDA_RUNTIME_API."""
        protocol = self._runner.server if self._runner is not None else None
        if protocol is None:
            raise RuntimeApiError("the Runtime API server is not started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            # Our own listener for the runner's protocol (not a TCPSite), so closing it is synchronous.
            listener = await asyncio.get_running_loop().create_server(protocol, sock=sock)
        except OSError as exc:
            sock.close()
            raise RuntimeApiError(f"could not start the Runtime API on 127.0.0.1: {exc}") from exc
        host, port = sock.getsockname()[:2]
        self._listeners[port] = listener
        return f"{host}:{port}"

    def drop_endpoint(self, address: str) -> None:
        """Refuse, hang up and stop listening on `address` (its sandbox is gone, or was never used)."""
        port = _port(address)
        if port == self._current_port:
            self._current_port = None
            self._abandon_parked()
        listener = self._listeners.pop(port, None)
        if listener is not None:
            listener.close()
        self._hang_up(port)

    async def close(self) -> None:
        self._abandon_parked()
        self._current_port = None
        for port in list(self._listeners):
            self.drop_endpoint(f"127.0.0.1:{port}")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def reset(self, address: str, external_extensions: frozenset[str] = frozenset()) -> None:
        """A new sandbox starts on `address` (its external extensions named): retire the old endpoint and
        forget the old state."""
        self.retire()
        self.core = RuntimeApiCore()
        self.extensions = ExtensionsCore(self._facts, external_extensions)
        self._current_port = _port(address)

    def retire(self) -> None:
        """The current runtime is gone (killed, crashed): nothing reaches the core until the next `reset`."""
        if self._current_port is not None:
            self.drop_endpoint(f"127.0.0.1:{self._current_port}")
        self._abandon_parked()

    def _hang_up(self, port: int) -> None:
        server = self._runner.server if self._runner is not None else None
        for handler in server.connections if server is not None else ():
            transport = handler.transport
            if transport is not None and _local_port(transport) == port:
                transport.abort()

    def _current(self, request: web.Request) -> bool:
        transport = request.transport
        return transport is not None and _local_port(transport) == self._current_port

    def _abandon_parked(self) -> None:
        for future in self._parked.values():
            if not future.done():  # the old runtime is being killed; answer its poll so nothing dangles
                future.set_result(_RESET_REPLY())
        self._parked.clear()

    def submit(self, invocation: Invocation) -> None:
        self._apply(self.core.submit(invocation), {})

    def send_extensions(self, effects: list[ExtEffect]) -> None:
        """Carry out what the extensions core returned for a platform event (INVOKE, SHUTDOWN)."""
        self._apply(effects, {})

    def _apply(self, effects: Sequence[Effect | ExtEffect], replies: dict[int, web.StreamResponse]) -> None:
        for effect in effects:
            if isinstance(effect, ExtReply):
                body = _OK if effect.body is None else json.dumps(effect.body).encode()
                replies[effect.token] = web.Response(
                    status=effect.status,
                    body=body,
                    content_type="application/json",
                    headers=dict(effect.headers),
                )
            elif isinstance(effect, ExtDeliver):
                headers = {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())}
                response = web.Response(
                    status=200,
                    body=json.dumps(effect.event).encode(),
                    content_type="application/json",
                    headers=headers,
                )
                self._answer_parked(effect.token, response, replies)
            elif isinstance(effect, Reply):
                body = _OK if effect.body is None else json.dumps(effect.body).encode()
                replies[effect.token] = web.Response(
                    status=effect.status, body=body, content_type="application/json"
                )
            elif isinstance(effect, Deliver):
                response = web.Response(
                    status=200, body=effect.invocation.payload, headers=effect.invocation.headers()
                )
                self._answer_parked(effect.token, response, replies)
            else:
                self._on_effect(effect)

    def _answer_parked(
        self, token: int, response: web.Response, replies: dict[int, web.StreamResponse]
    ) -> None:
        future = self._parked.pop(token, None)
        if future is None:
            replies[token] = response
        elif not future.done():
            future.set_result(response)

    async def _next(self, request: web.Request) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        core = self.core
        future: asyncio.Future[web.StreamResponse] = asyncio.get_running_loop().create_future()
        self._parked[token] = future
        replies: dict[int, web.StreamResponse] = {}
        self._apply(core.next_requested(token), replies)
        if token in replies:
            self._parked.pop(token, None)
            return replies[token]
        try:
            return await future  # long poll: no timeout, as Lambda's docs require
        except asyncio.CancelledError:
            self._parked.pop(token, None)
            if core is self.core:
                core.poll_abandoned(token)
            raise

    async def _response(self, request: web.Request) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        body, size = await _read_capped(request)
        effects = self.core.response_posted(
            token,
            request.match_info["request_id"],
            body=body,
            size=size,
            content_type=request.headers.get("Content-Type", "application/json"),
            response_mode=request.headers.get(_MODE_HEADER),
        )
        return await self._reply_after_answer(token, effects)

    async def _error(self, request: web.Request) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        body, _ = await _read_capped(request)
        effects = self.core.error_posted(
            token, request.match_info["request_id"], body, request.headers.get(_ERROR_TYPE_HEADER)
        )
        return await self._reply_after_answer(token, effects)

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        body, _ = await _read_capped(request)
        effects = self.core.init_error_posted(token, body, request.headers.get(_ERROR_TYPE_HEADER))
        return self._reply_for(token, effects)

    # --- Extensions API ------------------------------------------------------------------------------------

    async def _ext_register(self, request: web.Request) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        body, _ = await _read_capped(request)
        headers = request.headers
        effects = self.extensions.register(
            token, headers.get("Lambda-Extension-Name"), body, headers.get("Lambda-Extension-Accept-Feature")
        )
        return self._reply_for(token, effects)

    async def _ext_next(self, request: web.Request) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        extensions = self.extensions
        future: asyncio.Future[web.StreamResponse] = asyncio.get_running_loop().create_future()
        self._parked[token] = future
        replies: dict[int, web.StreamResponse] = {}
        self._apply(extensions.next_requested(token, request.headers.get(_EXT_ID)), replies)
        if token in replies:
            self._parked.pop(token, None)
            return replies[token]
        try:
            return (
                await future
            )  # parked until an event it subscribed to comes (maybe never: GoLangEnableSIGTERM)
        except asyncio.CancelledError:
            self._parked.pop(token, None)
            if extensions is self.extensions:
                extensions.poll_abandoned(token)
            raise

    async def _ext_error(self, request: web.Request, kind: str) -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        body, _ = await _read_capped(request)
        headers = request.headers
        effects = self.extensions.error_posted(
            token, headers.get(_EXT_ID), kind, headers.get(_EXT_ERROR_TYPE), body
        )
        return self._reply_for(token, effects)

    async def _ext_init_error(self, request: web.Request) -> web.StreamResponse:
        return await self._ext_error(request, "init")

    async def _ext_exit_error(self, request: web.Request) -> web.StreamResponse:
        return await self._ext_error(request, "exit")

    # --- Telemetry API and Logs API ----------------------------------------------------------------------

    async def _subscribe(self, request: web.Request, api: str = "telemetry") -> web.StreamResponse:
        if not self._current(request):
            return _stale_reply(request)
        token = next(self._tokens)
        body, _ = await _read_capped(request)
        ext_id = request.headers.get(_EXT_ID)
        refused = self.extensions.check_id(token, ext_id)
        if refused is not None:
            return self._reply_for(token, [refused])
        ext = next(e for e in self.extensions.extensions if e.id == ext_id)
        try:
            subscription = parse_subscription(ext.name, body, api)
        except SubscriptionError as exc:
            error = {"errorType": exc.error_type, "errorMessage": exc.message}
            return web.Response(status=400, body=json.dumps(error).encode(), content_type="application/json")
        self._on_effect(Subscribed(subscription))
        return web.Response(status=200, text="OK")

    async def _subscribe_logs(self, request: web.Request) -> web.StreamResponse:
        return await self._subscribe(request, "logs")

    async def _ping(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="pong")

    async def _reply_after_answer(
        self, token: int, effects: Sequence[Effect | ExtEffect]
    ) -> web.StreamResponse:
        """The runtime's 202, one loop turn after its answer went to the platform: a caller waiting on that
        answer (a front door) is woken first and writes its reply before this one."""
        reply = self._reply_for(token, effects)
        if any(type(effect) is Resolved for effect in effects):
            await asyncio.sleep(0)
        return reply

    def _reply_for(self, token: int, effects: Sequence[Effect | ExtEffect]) -> web.StreamResponse:
        replies: dict[int, web.StreamResponse] = {}
        self._apply(effects, replies)
        return replies[token]


async def _read_capped(request: web.Request) -> tuple[bytes, int]:
    """Read a body (plain or chunked/streamed) keeping at most the payload limit; return it and its size."""
    chunks: list[bytes] = []
    kept = size = 0
    with contextlib.suppress(ConnectionResetError):
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if kept <= MAX_RESPONSE_BYTES:
                chunks.append(chunk)
                kept += len(chunk)
    return b"".join(chunks), size
