"""The Runtime API as a pure state machine: events in, effects out. No I/O and no clock.

The HTTP adapter turns each request into a call here (with a token naming the request) and carries out the
returned effects: replies to HTTP requests, and notifications for the platform (runtime ready, invocation
resolved, init failed). States and error replies follow the Runtime Interface Emulator (reference §1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from coldlab.runtime.model import (
    MAX_RESPONSE_BYTES,
    STREAMING_MODE,
    ApiError,
    InitFailure,
    Invocation,
    Outcome,
)

_NOT_ALLOWED = "State transition is not allowed"


class RuntimeState(Enum):
    """RIE's runtime states (core/states.go names, used verbatim in error messages)."""

    STARTED = "Started"
    READY = "Ready"
    RUNNING = "Running"
    RESPONSE_SENT = "RuntimeResponseSentState"
    INIT_ERROR = "InitError"


@dataclass(frozen=True)
class Reply:
    """Answer HTTP request `token` now. `body` None means the 202 `{"status":"OK"}` acknowledgement."""

    token: int
    status: int
    body: dict[str, str] | None = None


@dataclass(frozen=True)
class Deliver:
    """Answer the parked `GET /next` request `token` with this invocation."""

    token: int
    invocation: Invocation


@dataclass(frozen=True)
class RuntimeReady:
    """The runtime asked for the next event: init is done (`first`) or the last invoke is finished."""

    first: bool


@dataclass(frozen=True)
class Resolved:
    """The current invocation has its answer for the caller."""

    outcome: Outcome


@dataclass(frozen=True)
class InitFailed:
    failure: InitFailure


Effect = Reply | Deliver | RuntimeReady | Resolved | InitFailed
ACCEPTED = 202


def _transition_error(state: RuntimeState, target: str) -> ApiError:
    return ApiError(
        403,
        "InvalidStateTransition",
        f"State transition from {state.value} to {target} failed for runtime. Error: {_NOT_ALLOWED}",
    )


_INVALID_REQUEST_ID = ApiError(400, "InvalidRequestID", "Invalid request ID")
_INVALID_MODE = ApiError(400, "InvalidFunctionResponseMode", "Invalid function response mode")
_TOO_LARGE = ApiError(
    413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
)


def _reply(token: int, error: ApiError) -> Reply:
    return Reply(token, error.status, error.body())


class RuntimeApiCore:
    """One runtime's view of the API, from spawn until it exits. One invocation at a time, as in Lambda."""

    def __init__(self) -> None:
        self.state = RuntimeState.STARTED
        self._parked: int | None = None  # token of a GET /next waiting for an event
        self._queued: Invocation | None = None
        self._current: str | None = None  # request id of the invocation delivered last
        self._ready_seen = False

    @property
    def current_request_id(self) -> str | None:
        return self._current

    def next_requested(self, token: int) -> list[Effect]:
        if self.state in (RuntimeState.RUNNING, RuntimeState.INIT_ERROR) or self._parked is not None:
            return [_reply(token, _transition_error(self.state, RuntimeState.READY.value))]
        effects: list[Effect] = [RuntimeReady(first=not self._ready_seen)]
        self._ready_seen = True
        self.state = RuntimeState.READY
        if self._queued is not None:
            effects.append(self._deliver(token, self._queued))
        else:
            self._parked = token
        return effects

    def submit(self, invocation: Invocation) -> list[Effect]:
        """The platform has an event for this runtime; delivered now if a `/next` is waiting."""
        if self._queued is not None or self.state is RuntimeState.RUNNING:
            raise RuntimeError("one invocation at a time per execution environment")
        if self._parked is not None:
            token, self._parked = self._parked, None
            return [self._deliver(token, invocation)]
        self._queued = invocation
        return []

    def _deliver(self, token: int, invocation: Invocation) -> Deliver:
        self._queued = None
        self._current = invocation.request_id
        self.state = RuntimeState.RUNNING
        return Deliver(token, invocation)

    def poll_abandoned(self, token: int) -> list[Effect]:
        """The runtime hung up a parked `/next` (its connection closed)."""
        if self._parked == token:
            self._parked = None
        return []

    def _check_answer(self, token: int, request_id: str, target: str) -> Reply | None:
        if not request_id or request_id != self._current:
            return _reply(token, _INVALID_REQUEST_ID)
        if self.state is not RuntimeState.RUNNING:
            return _reply(token, _transition_error(self.state, target))
        return None

    def response_posted(
        self,
        token: int,
        request_id: str,
        *,
        body: bytes,
        size: int,
        content_type: str,
        response_mode: str | None,
    ) -> list[Effect]:
        """`POST /invocation/{id}/response`. `size` is the whole body's length; `body` may be cut short."""
        refused = self._check_answer(token, request_id, "InvocationResponse")
        if refused is not None:
            return [refused]
        self.state = RuntimeState.RESPONSE_SENT
        if response_mode is not None and response_mode != STREAMING_MODE:
            outcome = Outcome(request_id, b"", content_type, "Unhandled", "Runtime.InvalidResponseModeHeader")
            return [Resolved(outcome), _reply(token, _INVALID_MODE)]
        if size > MAX_RESPONSE_BYTES:
            error = {
                "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload "
                f"size ({MAX_RESPONSE_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            payload = json.dumps(error, separators=(",", ":")).encode()
            outcome = Outcome(
                request_id, payload, "application/json", "Unhandled", "Function.ResponseSizeTooLarge"
            )
            return [Resolved(outcome), _reply(token, _TOO_LARGE)]
        streamed = response_mode == STREAMING_MODE
        return [Resolved(Outcome(request_id, body, content_type, streamed=streamed)), Reply(token, ACCEPTED)]

    def error_posted(self, token: int, request_id: str, body: bytes, error_type: str | None) -> list[Effect]:
        """`POST /invocation/{id}/error`: the handler failed; the caller gets the error document."""
        refused = self._check_answer(token, request_id, "InvocationErrorResponse")
        if refused is not None:
            return [refused]
        self.state = RuntimeState.RESPONSE_SENT
        payload, reported_type = _error_document(body, error_type)
        outcome = Outcome(request_id, payload, "application/json", "Unhandled", reported_type)
        return [Resolved(outcome), Reply(token, ACCEPTED)]

    def init_error_posted(self, token: int, body: bytes, error_type: str | None) -> list[Effect]:
        """`POST /init/error`: only allowed before the first `/next`."""
        if self.state is not RuntimeState.STARTED:
            return [_reply(token, _transition_error(self.state, RuntimeState.INIT_ERROR.value))]
        self.state = RuntimeState.INIT_ERROR
        payload, reported_type = _error_document(body, error_type)
        return [InitFailed(InitFailure(reported_type, payload)), Reply(token, ACCEPTED)]


def _error_document(body: bytes, header_type: str | None) -> tuple[bytes, str]:
    """The error payload for the caller and the error type for the logs.

    Clients differ (reference §1.3): aws-lambda-go sends object stack frames and no type header, awslambdaric
    sends the header, others send neither. A JSON object body is passed through as the runtime wrote it.
    """
    try:
        document = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict):
        body_type = document.get("errorType")
        declared = header_type or (body_type if isinstance(body_type, str) else None)
        return body, declared or "Runtime.Unknown"
    error_type = header_type or "Runtime.Unknown"
    text = body.decode("utf-8", "replace")
    payload = json.dumps({"errorMessage": text, "errorType": error_type}, separators=(",", ":")).encode()
    return payload, error_type
