"""The Runtime API over HTTP: a thin adapter (coldlab/http11.py) around RuntimeApiCore.

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

import itertools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coldlab.errors import RuntimeApiError
from coldlab.http11 import Answer, HttpServer, Pending, Reply, Request
from coldlab.runtime.core import (
    Deliver,
    Effect,
    InitFailed,
    Resolved,
    RuntimeApiCore,
    RuntimeReady,
)
from coldlab.runtime.core import Reply as CoreReply
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
Route = Callable[[Request], Answer]
_EXT = f"/{EXTENSIONS_API_VERSION}/extension"
_EXT_ID = "Lambda-Extension-Identifier"
_EXT_ERROR_TYPE = "Lambda-Extension-Function-Error-Type"
_INVOCATION = f"/{API_VERSION}/runtime/invocation/"
_OK = json.dumps({"status": "OK"}).encode()
_TEXT = "text/plain; charset=utf-8"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"


def _json_reply(status: int, document: object) -> Reply:
    return Reply(status, json.dumps(document).encode())


_RESET_REPLY = _json_reply(500, {"errorMessage": "Internal Server Error", "errorType": "InternalServerError"})
# For a request from a sandbox that is no longer current: refused, and its connection closed.
_STALE = {"errorMessage": "This runtime's execution environment is gone", "errorType": "InvalidRuntime"}
_STALE_REPLY = Reply(403, json.dumps(_STALE).encode(), close=True)
_NOT_FOUND = Reply(404, b"404: Not Found", _TEXT)
_NOT_ALLOWED = Reply(405, b"405: Method Not Allowed", _TEXT)


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


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
        self._parked: dict[int, Pending] = {}
        self._http: HttpServer | None = None
        self._current_port: int | None = None  # the endpoint whose requests reach the core
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", f"{_INVOCATION}next"): self._next,
            ("POST", f"/{API_VERSION}/runtime/init/error"): self._init_error,
            ("GET", f"/{API_VERSION}/ping"): lambda request: Reply(200, b"pong", _TEXT),
            ("POST", f"{_EXT}/register"): self._ext_register,
            ("GET", f"{_EXT}/event/next"): self._ext_next,
            ("POST", f"{_EXT}/init/error"): lambda request: self._ext_error(request, "init"),
            ("POST", f"{_EXT}/exit/error"): lambda request: self._ext_error(request, "exit"),
            ("PUT", f"/{TELEMETRY_API_VERSION}/telemetry"): lambda r: self._subscribe(r, "telemetry"),
            ("PUT", f"/{LOGS_API_VERSION}/logs"): lambda r: self._subscribe(r, "logs"),
        }  # fmt: skip
        self._paths = {path for _, path in self._routes}

    async def start(self) -> None:
        """Set the server up; endpoints are opened per sandbox with `open_endpoint`."""
        self._http = HttpServer(self._handle, body_cap=MAX_RESPONSE_BYTES)

    async def open_endpoint(self) -> str:
        """Listen on a new port of 127.0.0.1 for one sandbox; `host:port` for its AWS_LAMBDA_RUNTIME_API."""
        if self._http is None:
            raise RuntimeApiError("the Runtime API server is not started")
        return f"127.0.0.1:{await self._http.listen()}"

    def drop_endpoint(self, address: str) -> None:
        """Refuse, hang up and stop listening on `address` (its sandbox is gone, or was never used)."""
        port = _port(address)
        if port == self._current_port:
            self._current_port = None
            self._abandon_parked()
        if self._http is not None:
            self._http.close_port(port)

    async def close(self) -> None:
        self._abandon_parked()
        self._current_port = None
        if self._http is not None:
            self._http.close()
            self._http = None

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

    def _abandon_parked(self) -> None:
        parked, self._parked = self._parked, {}
        for pending in parked.values():  # the old runtime is being killed; answer its poll so nothing dangles
            pending.resolve(_RESET_REPLY)

    def submit(self, invocation: Invocation) -> None:
        self._apply(self.core.submit(invocation), {})

    def send_extensions(self, effects: list[ExtEffect]) -> None:
        """Carry out what the extensions core returned for a platform event (INVOKE, SHUTDOWN)."""
        self._apply(effects, {})

    def _apply(self, effects: Sequence[Effect | ExtEffect], replies: dict[int, Reply]) -> None:
        for effect in effects:
            if isinstance(effect, Deliver):
                invocation = effect.invocation
                self._answer(effect.token, Reply(200, invocation.payload, invocation.content_type,
                                                 invocation.headers()), replies)  # fmt: skip
            elif isinstance(effect, ExtReply | CoreReply):
                body = _OK if effect.body is None else json.dumps(effect.body).encode()
                headers = dict(effect.headers) if isinstance(effect, ExtReply) else {}
                replies[effect.token] = Reply(effect.status, body, headers=headers)
            elif isinstance(effect, ExtDeliver):
                headers = {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())}
                event = json.dumps(effect.event).encode()
                self._answer(effect.token, Reply(200, event, headers=headers), replies)
            else:
                self._on_effect(effect)

    def _answer(self, token: int, reply: Reply, replies: dict[int, Reply]) -> None:
        pending = self._parked.pop(token, None)
        if pending is None:
            replies[token] = reply
        else:
            pending.resolve(reply)

    # --- requests ------------------------------------------------------------------------------------------

    def _handle(self, request: Request) -> Answer:
        if request.port != self._current_port:
            return _STALE_REPLY
        route = self._routes.get((request.method, request.path))
        if route is not None:
            return route(request)
        if request.path.startswith(_INVOCATION):
            request_id, _, kind = request.path[len(_INVOCATION) :].rpartition("/")
            if request_id and "/" not in request_id and kind in ("response", "error"):
                if request.method != "POST":
                    return _NOT_ALLOWED
                posted = self._response if kind == "response" else self._error
                return posted(request, request_id)
        return _NOT_ALLOWED if request.path in self._paths else _NOT_FOUND

    def _park(
        self, token: int, effects: Sequence[Effect | ExtEffect], owner: RuntimeApiCore | ExtensionsCore
    ) -> Answer:
        """A long poll: its reply now if the core's effects hold one, else later, from a later effect (no
        timeout, as Lambda's docs require); a poll whose connection goes away is abandoned in `owner`, the
        core it was made in, if that core is still the current one."""
        replies: dict[int, Reply] = {}
        self._apply(effects, replies)
        if token in replies:
            return replies[token]

        def gone() -> None:
            self._parked.pop(token, None)
            if owner is self.core or owner is self.extensions:
                owner.poll_abandoned(token)

        pending = self._parked[token] = Pending(gone)
        return pending

    def _next(self, request: Request) -> Answer:
        token = next(self._tokens)
        return self._park(token, self.core.next_requested(token), self.core)

    def _response(self, request: Request, request_id: str) -> Reply:
        token = next(self._tokens)
        effects = self.core.response_posted(
            token,
            request_id,
            body=request.body,
            size=request.size,
            content_type=request.header("Content-Type") or "application/json",
            response_mode=request.header(_MODE_HEADER),
        )
        return self._reply_for(token, effects)

    def _error(self, request: Request, request_id: str) -> Reply:
        token = next(self._tokens)
        effects = self.core.error_posted(token, request_id, request.body, request.header(_ERROR_TYPE_HEADER))
        return self._reply_for(token, effects)

    def _init_error(self, request: Request) -> Reply:
        token = next(self._tokens)
        effects = self.core.init_error_posted(token, request.body, request.header(_ERROR_TYPE_HEADER))
        return self._reply_for(token, effects)

    def _reply_for(self, token: int, effects: Sequence[Effect | ExtEffect]) -> Reply:
        replies: dict[int, Reply] = {}
        self._apply(effects, replies)
        return replies[token]

    # --- Extensions API ------------------------------------------------------------------------------------

    def _ext_register(self, request: Request) -> Reply:
        token = next(self._tokens)
        effects = self.extensions.register(
            token,
            request.header("Lambda-Extension-Name"),
            request.body,
            request.header("Lambda-Extension-Accept-Feature"),
        )
        return self._reply_for(token, effects)

    def _ext_next(self, request: Request) -> Answer:
        """Parked until an event it subscribed to comes (maybe never: GoLangEnableSIGTERM)."""
        token, extensions = next(self._tokens), self.extensions
        return self._park(token, extensions.next_requested(token, request.header(_EXT_ID)), extensions)

    def _ext_error(self, request: Request, kind: str) -> Reply:
        token = next(self._tokens)
        effects = self.extensions.error_posted(
            token, request.header(_EXT_ID), kind, request.header(_EXT_ERROR_TYPE), request.body
        )
        return self._reply_for(token, effects)

    # --- Telemetry API and Logs API ----------------------------------------------------------------------

    def _subscribe(self, request: Request, api: str) -> Reply:
        token = next(self._tokens)
        ext_id = request.header(_EXT_ID)
        refused = self.extensions.check_id(token, ext_id)
        if refused is not None:
            return self._reply_for(token, [refused])
        ext = next(e for e in self.extensions.extensions if e.id == ext_id)
        try:
            subscription = parse_subscription(ext.name, request.body, api)
        except SubscriptionError as exc:
            return _json_reply(400, {"errorType": exc.error_type, "errorMessage": exc.message})
        self._on_effect(Subscribed(subscription))
        return Reply(200, b"OK", _TEXT)
