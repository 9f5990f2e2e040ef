"""The values of Lambda's asynchronous retry policy (serve §2.5): a qualifier's event invoke config as the
poller applies it, the outcome of an attempt as a destination record needs it, and the delays."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from coldlab.errors import ColdlabError, LambdaApiError
from coldlab.platform.destinations import Destination, parse_destination
from coldlab.store.queue import QueuedEvent

RETRY_BASE_S = 60.0  # function errors: retry n comes n minutes after the attempt before it
BACKOFF_MIN_S, BACKOFF_MAX_S = 1.0, 300.0  # throttles and platform errors: 1 s doubling to 5 min
DEFAULT_RETRIES, DEFAULT_MAX_AGE_S = 2, 21600


def next_backoff(previous_s: float) -> float:
    return min(max(previous_s * 2, BACKOFF_MIN_S), BACKOFF_MAX_S)


@dataclass(frozen=True)
class EventConfig:
    """A qualifier's FunctionEventInvokeConfig as the poller applies it (absent members: the defaults)."""

    max_retries: int = DEFAULT_RETRIES
    max_age_s: int = DEFAULT_MAX_AGE_S
    on_success: Destination | None = None
    on_failure: Destination | None = None

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> EventConfig:
        destinations = document.get("DestinationConfig") or {}

        def destination(kind: str) -> Destination | None:
            value = (destinations.get(kind) or {}).get("Destination")
            return parse_destination(value, f"DestinationConfig.{kind}.Destination") if value else None

        return cls(
            max_retries=int(document.get("MaximumRetryAttempts", DEFAULT_RETRIES)),
            max_age_s=int(document.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)),
            on_success=destination("OnSuccess"),
            on_failure=destination("OnFailure"),
        )


@dataclass(frozen=True)
class Outcome:
    """What the last attempt gave, for the destination record."""

    status_code: int
    executed_version: str
    function_error: str | None
    response: bytes | None


def event_outcome(event: QueuedEvent) -> Outcome:
    """The last attempt's outcome, as stored with the event (a plain 200 when it never ran)."""
    stored = event.record()
    if not stored:
        return Outcome(200, "$LATEST", None, None)
    response = stored.get("response")
    return Outcome(
        int(stored.get("status_code", 200)),
        str(stored.get("executed_version", "$LATEST")),
        stored.get("function_error"),
        None if response is None else str(response).encode(),
    )


def error_outcome(version: str, status: int, exc: ColdlabError) -> Outcome:
    code = exc.code if isinstance(exc, LambdaApiError) else "ServiceException"
    body = compact_json({"errorType": code, "errorMessage": exc.message})
    return Outcome(status, version, None, body.encode())


def outcome_json(outcome: Outcome) -> str:
    return compact_json(
        {
            "status_code": outcome.status_code,
            "executed_version": outcome.executed_version,
            "function_error": outcome.function_error,
            "response": None if outcome.response is None else outcome.response.decode("utf-8", "replace"),
        }
    )


def compact_json(document: object) -> str:
    return json.dumps(document, separators=(",", ":"))
