"""CloudWatch JSON-format platform records (LoggingConfig.LogFormat = JSON, reference §4.2).

One JSON object per line, shaped like Telemetry API events: `{"time", "type", "record"}`. The function's own
output is passed through unchanged, as Lambda does for custom runtimes.
"""

from __future__ import annotations

import json
from typing import Any

from coldlab.logs import text


def _event(kind: str, record: dict[str, Any]) -> str:
    return json.dumps({"time": text.iso_now(), "type": kind, "record": record}, separators=(",", ":"))


def _ms(value: float) -> float:
    return round(value, 3)


class JsonLogFormat:
    name = "JSON"

    def __init__(self, function_name: str, version: str, region: str) -> None:
        self._function_name = function_name
        self._version = version
        self._region = region

    def init_start(self) -> str:
        return _event(
            "platform.initStart",
            {
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": text.RUNTIME_VERSION,
                "runtimeVersionArn": text.runtime_version_arn(self._region),
                "functionName": self._function_name,
                "functionVersion": self._version,
            },
        )

    def start(self, request_id: str) -> str:
        return _event("platform.start", {"requestId": request_id, "version": self._version})

    def end(self, request_id: str, *, status: str, duration_ms: float, produced_bytes: int) -> str:
        metrics = {"durationMs": _ms(duration_ms), "producedBytes": produced_bytes}
        return _event("platform.runtimeDone", {"requestId": request_id, "status": status, "metrics": metrics})

    def report(self, request_id: str, figures: text.ReportFigures) -> str:
        metrics: dict[str, Any] = {
            "durationMs": _ms(figures.duration_ms),
            "billedDurationMs": figures.billed_duration_ms,
            "memorySizeMB": figures.memory_mb,
            "maxMemoryUsedMB": figures.max_memory_used_mb,
        }
        if figures.init_ms is not None:
            metrics["initDurationMs"] = _ms(figures.init_ms)
        record: dict[str, Any] = {"requestId": request_id, "metrics": metrics, "status": figures.status}
        if figures.error_type is not None:
            record["errorType"] = figures.error_type
        return _event("platform.report", record)

    def init_report(self, init_ms: float, *, phase: str, status: str, error_type: str | None) -> str:
        record: dict[str, Any] = {
            "initializationType": "on-demand",
            "phase": phase,
            "status": status,
            "metrics": {"durationMs": _ms(init_ms)},
        }
        if error_type is not None:
            record["errorType"] = error_type
        return _event("platform.initReport", record)
