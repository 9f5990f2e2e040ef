"""The lines Lambda writes to CloudWatch, byte for byte (reference §4): text and JSON formats."""

from __future__ import annotations

from typing import Protocol

from coldlab.errors import UsageError
from coldlab.logs.json_format import JsonLogFormat
from coldlab.logs.text import ReportFigures, TextLogFormat

LOG_FORMATS = ("text", "json")


class LogFormat(Protocol):
    """Renders the platform's lines; the function's own output never goes through here."""

    name: str  # the AWS_LAMBDA_LOG_FORMAT spelling

    def init_start(self) -> str: ...

    def start(self, request_id: str) -> str: ...

    def end(self, request_id: str, *, status: str, duration_ms: float, produced_bytes: int) -> str: ...

    def report(self, request_id: str, figures: ReportFigures) -> str: ...

    def init_report(self, init_ms: float, *, phase: str, status: str, error_type: str | None) -> str: ...


def log_format(name: str, *, function_name: str, version: str, region: str) -> LogFormat:
    if name == "text":
        return TextLogFormat(function_name, version, region)
    if name == "json":
        return JsonLogFormat(function_name, version, region)
    raise UsageError(f"log format {name!r} is not known", "use text or json")


__all__ = ["LOG_FORMATS", "JsonLogFormat", "LogFormat", "ReportFigures", "TextLogFormat", "log_format"]
