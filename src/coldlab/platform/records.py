"""The `platform.*` records of the Telemetry API, with the fields of serve-and-cloudrun §7.4 (RIE's
`interop/events_api.go` names): each builder returns (type, record) for TelemetryHub.emit."""

from __future__ import annotations

import time
from typing import Any, Protocol

from coldlab.config import FunctionConfig
from coldlab.logs import text
from coldlab.runtime.model import Outcome
from coldlab.runtime.telemetry import ms, tracing

Record = tuple[str, dict[str, Any]]


class _AttemptLike(Protocol):
    @property
    def request_id(self) -> str: ...
    @property
    def begun(self) -> float: ...
    @property
    def trace_id(self) -> str: ...


def _iso_at(monotonic: float) -> str:
    """An ISO time for a perf_counter instant (spans carry wall-clock starts)."""
    from datetime import UTC, datetime

    wall = time.time() - (time.perf_counter() - monotonic)
    return text.iso_now(datetime.fromtimestamp(wall, UTC))


def init_start(config: FunctionConfig, initialization_type: str, phase: str, instance_id: str) -> Record:
    return "platform.initStart", {
        "initializationType": initialization_type,
        "phase": phase,
        "runtimeVersion": text.RUNTIME_VERSION,
        "runtimeVersionArn": text.runtime_version_arn(config.region),
        "functionName": config.function_name,
        "functionArn": config.function_arn,
        "functionVersion": config.version,
        "instanceId": instance_id,
        "instanceMaxMemory": config.memory_mb * 1024 * 1024,
    }


def init_runtime_done(initialization_type: str, phase: str, status: str, error_type: str | None) -> Record:
    body: dict[str, Any] = {"initializationType": initialization_type, "phase": phase, "status": status}
    if error_type is not None:
        body["errorType"] = error_type
    return "platform.initRuntimeDone", body


def init_report(initialization_type: str, phase: str, duration_ms: float, status: str) -> Record:
    return "platform.initReport", {
        "initializationType": initialization_type,
        "phase": phase,
        "status": status,
        "metrics": {"durationMs": ms(duration_ms)},
    }


def start(request_id: str, version: str, trace_id: str) -> Record:
    return "platform.start", {"requestId": request_id, "version": version, "tracing": tracing(trace_id)}


def runtime_done(attempt: _AttemptLike, outcome: Outcome, now: float) -> Record:
    duration = (now - attempt.begun) * 1000
    status = "success" if outcome.ok else "error"
    body: dict[str, Any] = {
        "requestId": attempt.request_id,
        "status": status,
        "metrics": {"durationMs": ms(duration), "producedBytes": len(outcome.payload)},
        # The body arrives in one request: the whole of it lands at once, so its duration is ~0.
        "spans": [
            {"name": "responseLatency", "start": _iso_at(attempt.begun), "durationMs": ms(duration)},
            {"name": "responseDuration", "start": _iso_at(now), "durationMs": 0.0},
        ],
        "tracing": tracing(attempt.trace_id),
    }
    if outcome.error_type is not None and not outcome.ok:
        body["errorType"] = outcome.error_type
    return "platform.runtimeDone", body


def report(
    request_id: str, status: str, figures: text.ReportFigures, trace_id: str, error_type: str | None
) -> Record:
    metrics: dict[str, Any] = {
        "durationMs": ms(figures.duration_ms),
        "billedDurationMs": figures.billed_duration_ms,
        "memorySizeMB": figures.memory_mb,
        "maxMemoryUsedMB": figures.max_memory_used_mb,
    }
    if figures.init_ms is not None:
        metrics["initDurationMs"] = ms(figures.init_ms)
    body: dict[str, Any] = {"requestId": request_id, "status": status, "metrics": metrics}
    if error_type is not None:
        body["errorType"] = error_type
    if trace_id:
        body["tracing"] = tracing(trace_id)
    return "platform.report", body
