"""CloudWatch text-format platform lines: INIT_START, START, END, REPORT, INIT_REPORT, timeouts, exits.

Fields are TAB-separated. REPORT ends each standard field with a TAB, as current Lambda output does; the
status fields of a failed invoke follow without a trailing TAB (reference §4.1, observed captures).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from coldlab import __version__

RUNTIME_VERSION = "provided:al2023.coldlab"  # not an AWS runtime release: coldlab's local runtime


def runtime_version_arn(region: str) -> str:
    digest = hashlib.sha256(f"coldlab-{__version__}".encode()).hexdigest()
    return f"arn:aws:lambda:{region}::runtime:{digest}"


def init_start(region: str) -> str:
    arn = runtime_version_arn(region)
    return f"INIT_START Runtime Version: {RUNTIME_VERSION}\tRuntime Version ARN: {arn}"


def start(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def billed_ms(duration_ms: float, init_ms: float | None = None) -> int:
    """Billed Duration: rounded up to 1 ms; includes init for provided runtimes (reference §4.1)."""
    return math.ceil(round(duration_ms + (init_ms or 0.0), 6))


@dataclass(frozen=True)
class ReportFigures:
    """What a REPORT line says, whatever the log format."""

    duration_ms: float
    billed_duration_ms: int
    memory_mb: int
    max_memory_used_mb: int
    init_ms: float | None
    status: str  # "success" | "error" | "timeout"
    platform_error: bool = False  # the platform ended the invoke (exit, init failure): text shows Status
    error_type: str | None = None


def report(
    request_id: str,
    *,
    duration_ms: float,
    billed_duration_ms: int,
    memory_mb: int,
    max_memory_used_mb: int,
    init_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {billed_duration_ms} ms\tMemory Size: {memory_mb} MB\t"
        f"Max Memory Used: {max_memory_used_mb} MB\t"
    )
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    if status is not None:
        line += f"Status: {status}"
        if error_type is not None:
            line += f"\tError Type: {error_type}"
    return line


def init_report(init_ms: float, *, phase: str, status: str, error_type: str | None = None) -> str:
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    if error_type is not None:
        line += f"\tError Type: {error_type}"
    return line


def iso_now(now: datetime | None = None) -> str:
    """Lambda's timestamp style: 2024-06-17T17:23:55.826Z."""
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def timed_out(request_id: str, timeout_s: float, now: datetime | None = None) -> str:
    return f"{iso_now(now)} {request_id} Task timed out after {timeout_s:.2f} seconds"


def runtime_exited(request_id: str | None, reason: str) -> list[str]:
    """What Lambda logs when the runtime process dies: the error, then the error type on its own line."""
    prefix = f"RequestId: {request_id} " if request_id else ""
    return [f"{prefix}Error: Runtime exited with error: {reason}", "Runtime.ExitError"]


def memory_used_mb(peak_bytes: int) -> int:
    """Max Memory Used in whole MB (rounded up, so a process that used any memory shows at least 1)."""
    return max(1, math.ceil(peak_bytes / (1024 * 1024)))


class TextLogFormat:
    """Lambda's default text format."""

    name = "Text"

    def __init__(self, function_name: str, version: str, region: str) -> None:
        self._version = version
        self._region = region

    def init_start(self) -> str:
        return init_start(self._region)

    def start(self, request_id: str) -> str:
        return start(request_id, self._version)

    def end(self, request_id: str, *, status: str, duration_ms: float, produced_bytes: int) -> str:
        return end(request_id)

    def report(self, request_id: str, figures: ReportFigures) -> str:
        shown = figures.status == "timeout" or figures.platform_error
        return report(
            request_id,
            duration_ms=figures.duration_ms,
            billed_duration_ms=figures.billed_duration_ms,
            memory_mb=figures.memory_mb,
            max_memory_used_mb=figures.max_memory_used_mb,
            init_ms=figures.init_ms,
            status=figures.status if shown else None,
            error_type=figures.error_type if figures.platform_error else None,
        )

    def init_report(self, init_ms: float, *, phase: str, status: str, error_type: str | None) -> str:
        return init_report(init_ms, phase=phase, status=status, error_type=error_type)
