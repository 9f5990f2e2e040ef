"""Parse Lambda's REPORT line (text) or `platform.report` record (JSON logs) from a log tail.

Tolerant on purpose: fields may be separated by tabs or spaces (with or without a stray space after a
value), and Init Duration may come before or after the other durations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_FIELD = re.compile(
    r"(?P<key>(?:Init |Billed Restore |Billed |Restore )?Duration|Max Memory Used|Memory Size|Status"
    r"|Error Type|RequestId)\s*:\s*(?P<value>\d+(?:\.\d+)?|[^\s]+)"
)


@dataclass(frozen=True)
class Report:
    request_id: str | None
    duration_ms: float
    billed_duration_ms: int
    memory_size_mb: int | None
    max_memory_used_mb: int
    init_duration_ms: float | None
    status: str | None  # only present on failures ("timeout", "error") in text REPORT lines
    error_type: str | None


def _text_report(line: str) -> Report | None:
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(line):
        fields.setdefault(match.group("key"), match.group("value"))
    if "Duration" not in fields or "Billed Duration" not in fields:
        return None
    try:
        return Report(
            request_id=fields.get("RequestId"),
            duration_ms=float(fields["Duration"]),
            billed_duration_ms=int(float(fields["Billed Duration"])),
            memory_size_mb=int(fields["Memory Size"]) if "Memory Size" in fields else None,
            max_memory_used_mb=int(fields.get("Max Memory Used", "0")),
            init_duration_ms=float(fields["Init Duration"]) if "Init Duration" in fields else None,
            status=fields.get("Status"),
            error_type=fields.get("Error Type"),
        )
    except ValueError:
        return None


def _json_report(line: str) -> Report | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("type") != "platform.report":
        return None
    body = record.get("record") or {}
    metrics = body.get("metrics") or {}
    if "durationMs" not in metrics or "billedDurationMs" not in metrics:
        return None
    status = body.get("status")
    init = metrics.get("initDurationMs")
    return Report(
        request_id=body.get("requestId"),
        duration_ms=float(metrics["durationMs"]),
        billed_duration_ms=int(metrics["billedDurationMs"]),
        memory_size_mb=metrics.get("memorySizeMB"),
        max_memory_used_mb=int(metrics.get("maxMemoryUsedMB", 0)),
        init_duration_ms=None if init is None else float(init),
        status=None if status == "success" else status,
        error_type=body.get("errorType"),
    )


def parse_report(log_tail: str) -> Report | None:
    """The last REPORT line (or platform.report record) in a log tail, or None when there is none."""
    for line in reversed(log_tail.splitlines()):
        stripped = line.strip()
        if stripped.startswith("REPORT"):
            found = _text_report(stripped)
        elif stripped.startswith("{") and "platform.report" in stripped:
            found = _json_report(stripped)
        else:
            continue
        if found is not None:
            return found
    return None
