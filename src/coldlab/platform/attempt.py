"""Values of one invocation attempt and of one init, as the environment's phases pass them along."""

from __future__ import annotations

from dataclasses import dataclass

from coldlab.platform.result import ColdStartPhases


@dataclass(frozen=True)
class Attempt:
    """One invocation in flight: its id, when its invoke phase began and must end, and what init it carried.

    `deadline` (monotonic) and `deadline_ms` (the runtime's Lambda-Runtime-Deadline-Ms) are one instant: a
    suppressed re-init runs inside the same budget, so the runtime is never told it has time coldlab will
    not give it.
    """

    request_id: str
    begun: float
    deadline: float
    deadline_ms: int
    init_ms: float | None
    init_billed: bool
    cold: bool
    phases: ColdStartPhases | None
    trace_id: str = ""


class RegistrationFailed(Exception):  # noqa: N818 - a control-flow signal inside _spawn, never raised out
    def __init__(self, result: InitResult) -> None:
        super().__init__(result.error_type)
        self.result = result


@dataclass(frozen=True)
class InitResult:
    duration_ms: float
    phases: ColdStartPhases
    status: str  # "success" | "error" | "timeout"
    error_type: str | None = None
    payload: bytes = b""
    exit_reason: str | None = None
