"""What one invocation produced: the caller's answer, the REPORT figures and the log lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coldlab.platform.emf import EmfRecord


@dataclass(frozen=True)
class ColdStartPhases:
    """Where a cold start's time went, in milliseconds.

    `platform_ms`: invoke accepted → bootstrap exec'd (coldlab's own overhead: with a spare sandbox ready,
    only the exec; without, the sandbox is made first); `init_ms`: exec'd → the runtime's first `/next` (the
    function's own init). Init Duration in REPORT runs from the exec call to the first `/next`.
    """

    platform_ms: float
    init_ms: float


@dataclass(frozen=True)
class InitOutcome:
    """How an init run ahead of traffic (`Environment.initialize`) ended, and the lines it logged."""

    ok: bool
    duration_ms: float | None
    error_type: str | None
    log_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    payload: bytes
    content_type: str
    status: str  # "success" | "error" | "timeout", as platform.report's status
    function_error: str | None  # X-Amz-Function-Error ("Unhandled") or None
    error_type: str | None
    cold: bool
    duration_ms: float
    billed_duration_ms: int
    init_duration_ms: float | None
    memory_size_mb: int
    max_memory_used_mb: int
    log_lines: tuple[str, ...] = ()  # the last lines (a bounded tail: see logtail.py)
    dropped_log_lines: int = 0  # lines logged before the kept tail (they went to the log sink only)
    phases: ColdStartPhases | None = None
    streamed: bool = False
    fidelity: dict[str, Any] = field(default_factory=dict)
    extensions_overhead_ms: float = 0.0  # PostRuntimeExtensionsDuration: extensions' work after the response
    emf: tuple[EmfRecord, ...] = ()  # the function's EMF lines: metrics, or why a line was invalid

    @property
    def ok(self) -> bool:
        return self.function_error is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (payload decoded as JSON when it is JSON, else as text)."""
        try:
            payload: Any = json.loads(self.payload) if self.payload else None
        except (ValueError, UnicodeDecodeError):
            payload = self.payload.decode("utf-8", "replace")
        return {
            "request_id": self.request_id,
            "status": self.status,
            "cold": self.cold,
            "function_error": self.function_error,
            "error_type": self.error_type,
            "payload": payload,
            "content_type": self.content_type,
            "streamed": self.streamed,
            "duration_ms": round(self.duration_ms, 3),
            "billed_duration_ms": self.billed_duration_ms,
            "init_duration_ms": None if self.init_duration_ms is None else round(self.init_duration_ms, 3),
            "memory_size_mb": self.memory_size_mb,
            "max_memory_used_mb": self.max_memory_used_mb,
            "cold_start_phases": None
            if self.phases is None
            else {"platform_ms": round(self.phases.platform_ms, 3), "init_ms": round(self.phases.init_ms, 3)},
            "log_lines": list(self.log_lines),
            "dropped_log_lines": self.dropped_log_lines,
            "extensions_overhead_ms": round(self.extensions_overhead_ms, 3),
            "emf": [record.as_dict() for record in self.emf],
        }
