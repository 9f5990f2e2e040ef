"""The Runtime API state machine, event by event (no sockets, no clock)."""

from __future__ import annotations

import json

import pytest

from coldlab.runtime.core import (
    Deliver,
    InitFailed,
    Reply,
    Resolved,
    RuntimeApiCore,
    RuntimeReady,
    RuntimeState,
)
from coldlab.runtime.model import MAX_RESPONSE_BYTES, Invocation

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def invocation(request_id: str = "req-1") -> Invocation:
    return Invocation(request_id, b'{"a":1}', 1_700_000_000_000, ARN, "Root=1-abc;Parent=def;Sampled=0")


def running_core(request_id: str = "req-1") -> RuntimeApiCore:
    core = RuntimeApiCore()
    core.next_requested(1)
    core.submit(invocation(request_id))
    return core


def test_first_next_reports_init_done_and_parks() -> None:
    core = RuntimeApiCore()
    assert core.next_requested(1) == [RuntimeReady(first=True)]
    assert core.state is RuntimeState.READY
    effects = core.submit(invocation())
    assert effects == [Deliver(1, invocation())]
    assert core.state is RuntimeState.RUNNING


def test_event_queued_before_next_is_delivered_on_next() -> None:
    core = RuntimeApiCore()
    assert core.submit(invocation()) == []
    assert core.next_requested(7) == [RuntimeReady(first=True), Deliver(7, invocation())]


def test_response_resolves_and_acknowledges_with_202() -> None:
    core = running_core()
    effects = core.response_posted(
        2, "req-1", body=b'{"ok":true}', size=11, content_type="application/json", response_mode=None
    )
    assert isinstance(effects[0], Resolved)
    assert effects[0].outcome.payload == b'{"ok":true}'
    assert effects[0].outcome.ok
    assert effects[1] == Reply(2, 202)
    assert core.state is RuntimeState.RESPONSE_SENT
    # The runtime's next poll marks the invoke as finished (not a first init).
    assert core.next_requested(3) == [RuntimeReady(first=False)]


@pytest.mark.parametrize("request_id", ["", "unknown", "req-0"])
def test_unknown_or_stale_request_id_is_400_invalid_request_id(request_id: str) -> None:
    core = running_core()
    effects = core.response_posted(
        2, request_id, body=b"{}", size=2, content_type="application/json", response_mode=None
    )
    assert effects == [Reply(2, 400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})]
    assert core.state is RuntimeState.RUNNING  # the real invocation is still waiting


def test_second_response_is_403_invalid_state_transition() -> None:
    core = running_core()
    core.response_posted(2, "req-1", body=b"{}", size=2, content_type="application/json", response_mode=None)
    effects = core.error_posted(3, "req-1", b"{}", None)
    assert effects == [
        Reply(
            3,
            403,
            {
                "errorMessage": "State transition from RuntimeResponseSentState to InvocationErrorResponse "
                "failed for runtime. Error: State transition is not allowed",
                "errorType": "InvalidStateTransition",
            },
        )
    ]


def test_previous_invocation_id_is_stale_after_next_event() -> None:
    core = running_core("req-1")
    core.response_posted(2, "req-1", body=b"{}", size=2, content_type="application/json", response_mode=None)
    core.next_requested(3)
    core.submit(invocation("req-2"))
    effects = core.response_posted(
        4, "req-1", body=b"{}", size=2, content_type="application/json", response_mode=None
    )
    assert effects[0] == Reply(
        4, 400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
    )


def test_oversized_response_is_413_and_caller_gets_function_response_size_too_large() -> None:
    core = running_core()
    size = MAX_RESPONSE_BYTES + 1
    effects = core.response_posted(
        2, "req-1", body=b"x" * 10, size=size, content_type="application/json", response_mode=None
    )
    resolved, reply = effects
    assert isinstance(resolved, Resolved) and isinstance(reply, Reply)
    assert reply.status == 413 and reply.body is not None
    assert reply.body["errorType"] == "RequestEntityTooLarge"
    assert resolved.outcome.payload == (
        b'{"errorMessage":"Response payload size (6291557 bytes) exceeded maximum allowed payload size '
        b'(6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}'
    )
    assert resolved.outcome.function_error == "Unhandled"


def test_response_of_exactly_the_limit_is_accepted() -> None:
    core = running_core()
    effects = core.response_posted(
        2, "req-1", body=b"x", size=MAX_RESPONSE_BYTES, content_type="text/plain", response_mode=None
    )
    assert effects[1] == Reply(2, 202)


def test_streaming_mode_is_accepted_and_other_modes_refused() -> None:
    core = running_core()
    effects = core.response_posted(
        2, "req-1", body=b"abc", size=3, content_type="text/plain", response_mode="streaming"
    )
    assert isinstance(effects[0], Resolved) and effects[0].outcome.streamed
    core = running_core()
    effects = core.response_posted(
        2, "req-1", body=b"abc", size=3, content_type="text/plain", response_mode="chunky"
    )
    assert isinstance(effects[0], Resolved)
    assert effects[0].outcome.error_type == "Runtime.InvalidResponseModeHeader"
    assert effects[1] == Reply(
        2, 400, {"errorMessage": "Invalid function response mode", "errorType": "InvalidFunctionResponseMode"}
    )


@pytest.mark.parametrize(
    ("body", "header", "expected_type"),
    [
        # aws-lambda-go: object stack frames, no header
        (
            {"errorMessage": "boom", "errorType": "errorString", "stackTrace": [{"path": "a.go", "line": 3}]},
            None,
            "errorString",
        ),
        # awslambdaric: string frames and the header
        (
            {"errorMessage": "boom", "errorType": "ValueError", "stackTrace": ["  File x"]},
            "ValueError",
            "ValueError",
        ),
        ({"errorMessage": "boom"}, None, "Runtime.Unknown"),
    ],
)
def test_error_post_passes_the_document_through(
    body: dict[str, object], header: str | None, expected_type: str
) -> None:
    core = running_core()
    raw = json.dumps(body).encode()
    resolved, reply = core.error_posted(2, "req-1", raw, header)
    assert reply == Reply(2, 202)
    assert isinstance(resolved, Resolved)
    assert resolved.outcome.payload == raw
    assert resolved.outcome.error_type == expected_type
    assert resolved.outcome.function_error == "Unhandled"


def test_garbage_error_body_becomes_a_json_error() -> None:
    core = running_core()
    resolved, _ = core.error_posted(2, "req-1", b"\xff not json", "Function.Custom")
    assert isinstance(resolved, Resolved)
    assert json.loads(resolved.outcome.payload)["errorType"] == "Function.Custom"


def test_init_error_only_before_first_next() -> None:
    core = RuntimeApiCore()
    effects = core.init_error_posted(
        1, b'{"errorMessage":"no config","errorType":"Runtime.ConfigInvalid"}', None
    )
    assert isinstance(effects[0], InitFailed)
    assert effects[0].failure.error_type == "Runtime.ConfigInvalid"
    assert effects[1] == Reply(1, 202)
    assert core.state is RuntimeState.INIT_ERROR
    late = RuntimeApiCore()
    late.next_requested(1)
    (reply,) = late.init_error_posted(2, b"{}", None)
    assert isinstance(reply, Reply) and reply.status == 403


def test_next_while_running_or_twice_is_403() -> None:
    core = running_core()
    (reply,) = core.next_requested(5)
    assert isinstance(reply, Reply) and reply.status == 403
    parked = RuntimeApiCore()
    parked.next_requested(1)
    (second,) = parked.next_requested(2)
    assert isinstance(second, Reply) and second.status == 403


def test_abandoned_poll_is_forgotten() -> None:
    core = RuntimeApiCore()
    core.next_requested(1)
    core.poll_abandoned(1)
    assert core.submit(invocation()) == []  # queued, not delivered to a dead poll
    assert core.next_requested(2)[-1] == Deliver(2, invocation())


def test_invocation_headers_include_optional_ones_only_when_present() -> None:
    plain = invocation().headers()
    assert plain["Lambda-Runtime-Deadline-Ms"] == "1700000000000"
    assert "Lambda-Runtime-Client-Context" not in plain
    rich = Invocation(
        "r", b"", 1, ARN, "t", client_context='{"custom":{}}', cognito_identity='{"id":1}'
    ).headers()
    assert rich["Lambda-Runtime-Client-Context"] == '{"custom":{}}'
    assert rich["Lambda-Runtime-Cognito-Identity"] == '{"id":1}'
