"""The Extensions API 2020-01-01 as a pure state machine: events in, effects out. No I/O and no clock.

Like `core.py` for the runtime: the HTTP adapter calls in with a token per request and carries out the
returned effects (replies, events for parked `/event/next` polls, notices for the platform). Names, error
types and messages follow the Runtime Interface Emulator (`rapi/handler/constants.go`, `agentregister.go`,
`core/registrations.go`; reference lambda-contract §2 and serve-and-cloudrun §7.1-7.2).

An extension is *external* when its name is one of the executables the platform started (the file name is
the name, as on Lambda); any other name registers an *internal* one (a library inside the runtime process,
e.g. aws-lambda-go's `GoLangEnableSIGTERM`), which may not subscribe to SHUTDOWN.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

EXTENSIONS_API_VERSION = "2020-01-01"
MAX_EXTENSIONS = 10  # core.MaxAgentsAllowed
INVOKE, SHUTDOWN = "INVOKE", "SHUTDOWN"
_NOT_ALLOWED = "State transition is not allowed"


class ExtensionState(Enum):
    """RIE's agent state names (core/agent_state_names.go), used verbatim in its error messages."""

    STARTED = "Started"
    REGISTERED = "Registered"
    READY = "Ready"  # parked on /event/next
    RUNNING = "Running"  # an event was handed over; processing it
    INIT_ERROR = "InitError"
    EXIT_ERROR = "ExitError"


@dataclass
class Extension:
    """One registered extension (mutable: it lives as long as its sandbox)."""

    id: str
    name: str
    events: tuple[str, ...]
    internal: bool
    state: ExtensionState = ExtensionState.REGISTERED
    parked: int | None = None  # token of its waiting /event/next
    queued: list[dict[str, Any]] = field(default_factory=list)  # events not yet taken
    ready_once: bool = False

    @property
    def waiting(self) -> bool:
        """Back on /event/next with nothing left to take: done with the last event."""
        return self.state is ExtensionState.READY and not self.queued

    def subscribed(self, event: str) -> bool:
        return event in self.events


@dataclass(frozen=True)
class ExtReply:
    """Answer HTTP request `token` now; `body` None means 202 `{"status":"OK"}`."""

    token: int
    status: int
    body: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExtDeliver:
    """Answer the parked `/event/next` request `token` with this event."""

    token: int
    event: dict[str, Any]


@dataclass(frozen=True)
class ExtensionRegistered:
    name: str
    events: tuple[str, ...]
    internal: bool


@dataclass(frozen=True)
class ExtensionWaiting:
    """An extension called `/event/next` (the first time: its init is done)."""

    name: str
    first: bool


@dataclass(frozen=True)
class ExtensionFailed:
    """`/init/error` or `/exit/error`: `kind` is "init" or "exit", `error_type` what the extension said."""

    name: str
    kind: str
    error_type: str
    payload: bytes


ExtEffect = ExtReply | ExtDeliver | ExtensionRegistered | ExtensionWaiting | ExtensionFailed


def _forbidden(token: int, error_type: str, message: str) -> ExtReply:
    return ExtReply(token, 403, {"errorMessage": message, "errorType": error_type})


def _transition(token: int, ext: Extension, target: str) -> ExtReply:
    message = f"State transition from {ext.state.value} to {target} failed for extension {ext.name}. Error: "
    return _forbidden(token, "Extension.InvalidExtensionState", message + _NOT_ALLOWED)


@dataclass(frozen=True)
class FunctionFacts:
    """What `/register` answers with (model.ExtensionRegisterResponse)."""

    function_name: str
    function_version: str
    handler: str
    account_id: str


class ExtensionsCore:
    """The extensions of one sandbox, from its start until it is destroyed."""

    def __init__(
        self,
        facts: FunctionFacts,
        external_names: frozenset[str] = frozenset(),
        *,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._facts = facts
        self._external = external_names
        self._new_id = new_id
        self._by_id: dict[str, Extension] = {}
        self.registration_open = True
        self.shutting_down = False

    # --- what the platform asks ------------------------------------------------------------------------

    @property
    def extensions(self) -> tuple[Extension, ...]:
        return tuple(self._by_id.values())

    def by_name(self, name: str) -> Extension | None:
        return next((e for e in self._by_id.values() if e.name == name), None)

    def all_waiting(self) -> bool:
        """Every registered extension is back on `/event/next` with nothing queued (init or invoke done)."""
        return all(ext.waiting for ext in self._by_id.values())

    def unregistered_external(self, started: frozenset[str]) -> frozenset[str]:
        return started - {e.name for e in self._by_id.values() if not e.internal}

    def close_registration(self) -> None:
        """Init is over (the runtime's first `/next`): later registrations get RegistrationClosed."""
        self.registration_open = False

    # --- requests ---------------------------------------------------------------------------------------

    def register(  # noqa: PLR0911 - one return per RIE refusal, in RIE's order
        self, token: int, name: str | None, body: bytes, accept_feature: str | None
    ) -> list[ExtEffect]:
        """`POST /extension/register` with Lambda-Extension-Name `name`."""
        if not name:
            return [_forbidden(token, "Extension.InvalidExtensionName", "Empty extension name")]
        events, problem = _parse_register(body)
        if events is None:
            return [_forbidden(token, "InvalidRequestFormat", problem)]
        internal = name not in self._external
        for event in events:
            if event not in (INVOKE, SHUTDOWN):
                return [_forbidden(token, "Extension.InvalidEventType", f"{event}: ErrorInvalidEventType")]
            if internal and event == SHUTDOWN:
                message = f"{event}: ShutdownEventNotSupportedForInternalExtension"
                return [_forbidden(token, "Extension.InvalidEventType", message)]
        existing = self.by_name(name)
        if existing is not None and not internal:  # an external one registers once (RIE: agent.Register)
            return [_transition(token, existing, ExtensionState.REGISTERED.value)]
        if not self.registration_open:
            return [
                _forbidden(token, "Extension.RegistrationClosed", "Extension registration closed already")
            ]
        if existing is not None:
            message = "Extension with this name already registered"
            return [_forbidden(token, "Extension.InvalidExtensionState", message)]
        if len(self._by_id) >= MAX_EXTENSIONS:
            message = f"Extension limit ({MAX_EXTENSIONS}) reached"
            return [_forbidden(token, "Extension.TooManyExtensions", message)]
        ext = Extension(self._new_id(), name, tuple(dict.fromkeys(events)), internal)
        self._by_id[ext.id] = ext
        reply: dict[str, Any] = {
            "functionName": self._facts.function_name,
            "functionVersion": self._facts.function_version,
            "handler": self._facts.handler,
        }
        features = {f.strip() for f in (accept_feature or "").split(",")}
        if "accountId" in features:
            reply["accountId"] = self._facts.account_id
        headers = (("Lambda-Extension-Identifier", ext.id),)
        return [ExtensionRegistered(name, ext.events, internal), ExtReply(token, 200, reply, headers)]

    def check_id(self, token: int, ext_id: str | None) -> ExtReply | None:
        """RIE's AgentUniqueIdentifierHeaderValidator, then the lookup: a reply when the id is refused."""
        if not ext_id:
            return _forbidden(
                token, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"
            )
        try:
            uuid.UUID(ext_id)
        except ValueError:
            return _forbidden(
                token, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            )
        if ext_id not in self._by_id:
            return _forbidden(token, "Extension.UnknownExtensionIdentifier", f"Unknown extension {ext_id}")
        return None

    def next_requested(self, token: int, ext_id: str | None) -> list[ExtEffect]:
        """`GET /extension/event/next`: the extension is done with its last event and waits for the next."""
        refused = self.check_id(token, ext_id)
        if refused is not None:
            return [refused]
        ext = self._by_id[str(ext_id)]
        if ext.state in (ExtensionState.INIT_ERROR, ExtensionState.EXIT_ERROR) or ext.parked is not None:
            return [_transition(token, ext, ExtensionState.READY.value)]
        effects: list[ExtEffect] = [ExtensionWaiting(ext.name, first=not ext.ready_once)]
        ext.ready_once = True
        ext.state = ExtensionState.READY
        if ext.queued:
            effects.append(self._hand(ext, token))
        else:
            ext.parked = token
        return effects

    def poll_abandoned(self, token: int) -> None:
        for ext in self._by_id.values():
            if ext.parked == token:
                ext.parked = None

    def error_posted(
        self, token: int, ext_id: str | None, kind: str, error_type: str | None, body: bytes
    ) -> list[ExtEffect]:
        """`POST /extension/init/error` (kind "init") or `/extension/exit/error` (kind "exit")."""
        refused = self.check_id(token, ext_id)
        if refused is not None:
            return [refused]
        if not error_type:
            header = "Lambda-Extension-Function-Error-Type"
            return [_forbidden(token, "Extension.MissingHeader", f"{header} not found")]
        ext = self._by_id[str(ext_id)]
        target = ExtensionState.INIT_ERROR if kind == "init" else ExtensionState.EXIT_ERROR
        allowed = (
            (ExtensionState.REGISTERED,)
            if kind == "init"
            else (ExtensionState.REGISTERED, ExtensionState.RUNNING, ExtensionState.READY)
        )
        if ext.state not in allowed:
            return [_transition(token, ext, target.value)]
        ext.state = target
        return [ExtensionFailed(ext.name, kind, error_type, body), ExtReply(token, 202)]

    # --- events from the platform ------------------------------------------------------------------------

    def invoke(self, event: dict[str, Any]) -> list[ExtEffect]:
        """Hand an INVOKE event to every extension subscribed to it (now if parked, else at its next poll)."""
        return self._dispatch(INVOKE, event)

    def shutdown(self, reason: str, deadline_ms: int) -> list[ExtEffect]:
        """SHUTDOWN to every extension subscribed to it; none may register or take INVOKE afterwards."""
        self.shutting_down = True
        self.registration_open = False
        event = {"eventType": SHUTDOWN, "shutdownReason": reason, "deadlineMs": deadline_ms}
        return self._dispatch(SHUTDOWN, event)

    def _dispatch(self, kind: str, event: dict[str, Any]) -> list[ExtEffect]:
        effects: list[ExtEffect] = []
        for ext in self._by_id.values():
            if not ext.subscribed(kind) or ext.state in (
                ExtensionState.INIT_ERROR,
                ExtensionState.EXIT_ERROR,
            ):
                continue
            ext.queued.append(event)
            if ext.parked is not None:
                token, ext.parked = ext.parked, None
                effects.append(self._hand(ext, token))
        return effects

    def _hand(self, ext: Extension, token: int) -> ExtDeliver:
        ext.state = ExtensionState.RUNNING
        return ExtDeliver(token, ext.queued.pop(0))


def invoke_event(request_id: str, deadline_ms: int, function_arn: str, trace_id: str) -> dict[str, Any]:
    """The INVOKE event as model.AgentInvokeEvent renders it."""
    return {
        "eventType": INVOKE,
        "deadlineMs": deadline_ms,
        "requestId": request_id,
        "invokedFunctionArn": function_arn,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
    }


def _parse_register(body: bytes) -> tuple[list[str] | None, str]:
    """The events of a register body; `{"events":null}` (a nil Go slice) and `[]` both mean none."""
    try:
        document = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"invalid JSON: {exc}"
    if not isinstance(document, dict):
        return None, 'the body must be a JSON object such as {"events":["INVOKE","SHUTDOWN"]}'
    if document.get("configurationKeys"):
        return None, "configurationKeys are deprecated; use environment variables instead"
    events = document.get("events")
    if events is None:
        return [], ""
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        return None, "events must be a list of event names"
    return events, ""
