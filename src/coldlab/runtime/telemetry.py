"""The Telemetry API 2022-07-01 (and the Logs API 2020-08-15) as pure values: subscriptions checked against
the reference's bounds, records shaped like Lambda's, and a per-subscription buffer that drops (and counts)
rather than grows. No I/O and no clock: times come in as arguments. Delivery is in platform/telemetry.py.

Bounds and defaults are RIE's (serve-and-cloudrun §7.3): maxItems 1,000-10,000 (10,000), maxBytes
262,144-1,048,576 (262,144), timeoutMs 25-30,000 (1,000). Record fields are §7.4's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TELEMETRY_API_VERSION = "2022-07-01"
LOGS_API_VERSION = "2020-08-15"
SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
TYPES = ("platform", "function", "extension")
BOUNDS = {
    "maxItems": (1_000, 10_000, 10_000),
    "maxBytes": (262_144, 1_048_576, 262_144),
    "timeoutMs": (25, 30_000, 1_000),
}
RESERVED_PORT = 9001  # "Lambda reserves port 9001" (docs telemetry-api.md)
# Names a destination inside the environment goes by on Lambda; here they are this machine's loopback.
SANDBOX_HOSTS = ("sandbox", "sandbox.localdomain", "localhost", "127.0.0.1")


class SubscriptionError(ValueError):
    """A refused subscription: 400 with this errorType and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True)
class Buffering:
    max_items: int = 10_000
    max_bytes: int = 262_144
    timeout_ms: int = 1_000


@dataclass(frozen=True)
class Subscription:
    """One extension's subscription: what it wants and where it goes (`url` already points at loopback)."""

    extension: str
    types: tuple[str, ...]
    buffering: Buffering
    url: str
    schema_version: str
    api: str  # "telemetry" | "logs"


def parse_subscription(extension: str, body: bytes, api: str = "telemetry") -> Subscription:
    """Check a `PUT /2022-07-01/telemetry` (or `/2020-08-15/logs`) body; SubscriptionError says why not."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SubscriptionError("InvalidRequest", f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SubscriptionError("ValidationError", "the body must be a JSON object")
    schema = document.get("schemaVersion", "2022-07-01" if api == "telemetry" else LOGS_API_VERSION)
    if api == "telemetry" and schema not in SCHEMA_VERSIONS:
        raise SubscriptionError("ValidationError", f"schemaVersion {schema!r} is not supported")
    types = document.get("types")
    if not isinstance(types, list) or not types:
        raise SubscriptionError("ValidationError", "types should not be empty")
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        raise SubscriptionError("ValidationError", f"types: {unknown[0]!r} is not one of {', '.join(TYPES)}")
    buffering = _buffering(document.get("buffering"))
    url = _destination(document.get("destination"))
    return Subscription(extension, tuple(dict.fromkeys(types)), buffering, url, str(schema), api)


def _buffering(value: object) -> Buffering:
    if value is None:
        return Buffering()
    if not isinstance(value, dict):
        raise SubscriptionError("ValidationError", "buffering must be an object")
    chosen: dict[str, int] = {}
    for key, (low, high, default) in BOUNDS.items():
        raw = value.get(key, default)
        if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
            raise SubscriptionError(
                "ValidationError", f"buffering.{key} must be an integer from {low} to {high}"
            )
        chosen[key] = raw
    return Buffering(chosen["maxItems"], chosen["maxBytes"], chosen["timeoutMs"])


def _destination(value: object) -> str:
    if not isinstance(value, dict):
        raise SubscriptionError("ValidationError", "destination is required")
    protocol = value.get("protocol")
    if protocol == "TCP":
        raise SubscriptionError(
            "ValidationError", "coldlab delivers over HTTP only: use protocol HTTP and a URI"
        )
    if protocol != "HTTP":
        raise SubscriptionError("ValidationError", "destination.protocol must be HTTP")
    uri = value.get("URI")
    if not isinstance(uri, str):
        raise SubscriptionError("ValidationError", "destination.URI is required for HTTP")
    parts = urlsplit(uri)
    if parts.scheme != "http":
        raise SubscriptionError("ValidationError", "URI scheme must be http (HTTPS is not supported)")
    if parts.hostname not in SANDBOX_HOSTS:
        raise SubscriptionError(
            "ValidationError", "URI host must be inside the environment (sandbox.localdomain)"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        raise SubscriptionError("ValidationError", "URI port is not provided")
    if port == RESERVED_PORT:
        raise SubscriptionError("ValidationError", f"URI port {RESERVED_PORT} is reserved by Lambda")
    return f"http://127.0.0.1:{port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")


# --- records (§7.4) ----------------------------------------------------------------------------------------


def record(time: str, kind: str, body: Any) -> str:
    """One event of the stream, serialised once: `{"time","type","record"}`."""
    return json.dumps({"time": time, "type": kind, "record": body}, separators=(",", ":"))


def type_family(kind: str) -> str:
    """ "platform" for platform.*, else the type itself (function, extension)."""
    return "platform" if kind.startswith("platform.") else kind


def ms(value: float) -> float:
    return round(value, 3)


def tracing(trace_id: str) -> dict[str, str]:
    return {"type": "X-Amzn-Trace-Id", "value": trace_id}


@dataclass(frozen=True)
class Batch:
    """What one delivery carries: serialised records, in order."""

    records: tuple[str, ...]

    def body(self) -> bytes:
        return ("[" + ",".join(self.records) + "]").encode()


@dataclass
class TelemetryBuffer:
    """Records waiting for one subscription. It never holds more than one batch's worth (maxItems records,
    maxBytes bytes): what arrives while it is full is dropped and counted, and the next batch starts with a
    `platform.logsDropped` record saying how much (as Lambda does for a slow or absent destination)."""

    buffering: Buffering
    items: list[str] = field(default_factory=list)
    size: int = 0
    first_ms: float | None = None  # when the oldest waiting record arrived
    dropped_records: int = 0
    dropped_bytes: int = 0
    total_dropped_records: int = 0

    def add(self, line: str, now_ms: float) -> bool:
        size = len(line.encode())
        full = len(self.items) >= self.buffering.max_items or self.size + size > self.buffering.max_bytes
        if full and self.items:
            self.drop(1, size)
            return False
        self.items.append(line)
        self.size += size
        if self.first_ms is None:
            self.first_ms = now_ms
        return True

    def drop(self, records: int, size: int) -> None:
        self.dropped_records += records
        self.dropped_bytes += size
        self.total_dropped_records += records

    def due(self, now_ms: float) -> bool:
        """A batch should go now: the buffer is full, or its oldest record waited timeoutMs."""
        if not self.items and not self.dropped_records:
            return False
        if len(self.items) >= self.buffering.max_items or self.size >= self.buffering.max_bytes:
            return True
        return self.first_ms is not None and now_ms - self.first_ms >= self.buffering.timeout_ms

    def next_due_ms(self) -> float | None:
        return None if self.first_ms is None else self.first_ms + self.buffering.timeout_ms

    def take(self, time: str) -> Batch | None:
        """Everything waiting, led by a logsDropped record when anything was dropped since the last batch."""
        if not self.items and not self.dropped_records:
            return None
        lines = list(self.items)
        if self.dropped_records:
            reason = (
                "Some logs were dropped because the downstream consumer is slower than the logs production"
            )
            dropped = {
                "droppedBytes": self.dropped_bytes,
                "droppedRecords": self.dropped_records,
                "reason": reason,
            }
            lines.insert(0, record(time, "platform.logsDropped", dropped))
        self.items, self.size, self.first_ms = [], 0, None
        self.dropped_records = self.dropped_bytes = 0
        return Batch(tuple(lines))

    def give_back(self, batch: Batch) -> None:
        """A delivery that failed: its records count as dropped (Lambda retries; coldlab never blocks)."""
        for line in batch.records:
            event = json.loads(line)
            if event["type"] == "platform.logsDropped":  # its counts are not lost with it
                self.dropped_records += event["record"]["droppedRecords"]
                self.dropped_bytes += event["record"]["droppedBytes"]
            else:
                self.drop(1, len(line.encode()))
