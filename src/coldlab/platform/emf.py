"""CloudWatch Embedded Metric Format: the metrics a function prints as `_aws.CloudWatchMetrics` JSON lines,
parsed and checked against the limits of serve-and-cloudrun §8.2.

As CloudWatch does (§8.3), every line stays in the log; only JSON objects holding `_aws.CloudWatchMetrics`
count as EMF; a line that fails is reported as an EMFParsingErrors or EMFValidationErrors record and yields no
metrics. Whatever Lambda would prepend before the object (a timestamp, a request id) is tolerated.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_DOCUMENT_BYTES = 1_048_576  # the CloudWatch Logs event limit (1 MB)
MAX_METRICS = 100
MAX_VALUES = 100
MAX_DIMENSIONS = 30
MAX_NAMESPACE = 255
MAX_DIMENSION_NAME = 255
MAX_DIMENSION_VALUE = 1024
RESOLUTIONS = (1, 60)
_SIZES = ("Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes")
_BITS = ("Bits", "Kilobits", "Megabits", "Gigabits", "Terabits")
UNITS = frozenset(
    {"Seconds", "Microseconds", "Milliseconds", "Percent", "Count", "Count/Second", "None"}
    | set(_SIZES)
    | set(_BITS)
    | {f"{unit}/Second" for unit in (*_SIZES, *_BITS)}
)
PARSING, VALIDATION = "EMFParsingErrors", "EMFValidationErrors"
_SHOWN_CHARS = 200


@dataclass(frozen=True)
class EmfMetric:
    name: str
    unit: str
    storage_resolution: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class EmfDirective:
    namespace: str
    dimensions: tuple[tuple[tuple[str, str], ...], ...]  # each set: (key, value) pairs
    metrics: tuple[EmfMetric, ...]


@dataclass(frozen=True)
class EmfRecord:
    """One EMF event: its metrics, or (`error` set) why none were extracted."""

    timestamp: int | None = None
    directives: tuple[EmfDirective, ...] = ()
    error: str | None = None  # PARSING | VALIDATION
    message: str = ""
    line: str = field(default="", repr=False)

    @property
    def valid(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {
                "valid": False,
                "error": self.error,
                "message": self.message,
                "line": self.line[:_SHOWN_CHARS],
            }
        return {
            "valid": True,
            "timestamp": self.timestamp,
            "directives": [
                {
                    "namespace": d.namespace,
                    "dimensions": [dict(pairs) for pairs in d.dimensions],
                    "metrics": [
                        {
                            "name": m.name,
                            "unit": m.unit,
                            "storage_resolution": m.storage_resolution,
                            "values": list(m.values),
                        }
                        for m in d.metrics
                    ],
                }
                for d in self.directives
            ],
        }


class _InvalidError(ValueError):
    pass


def scan_emf(line: str) -> list[EmfRecord]:  # noqa: PLR0911 - one return per way a line is not EMF
    """The EMF record `line` carries (an empty list for an ordinary line)."""
    if "_aws" not in line or "CloudWatchMetrics" not in line:
        return []  # the fast path: almost every line
    start = line.find("{")
    if start < 0:
        return []
    text = line[start:]
    try:
        document = json.loads(text)
    except ValueError as exc:
        return [EmfRecord(error=PARSING, message=f"not one JSON object: {exc}", line=line)]
    if not isinstance(document, dict):
        return []
    aws = document.get("_aws")
    if not isinstance(aws, dict) or "CloudWatchMetrics" not in aws:
        return []
    try:
        if len(text.encode()) > MAX_DOCUMENT_BYTES:
            raise _InvalidError(f"the document is over {MAX_DOCUMENT_BYTES} bytes")
        return [_validate(document, aws, line)]
    except _InvalidError as exc:
        return [EmfRecord(error=VALIDATION, message=str(exc), line=line)]


def _validate(document: dict[str, Any], aws: dict[str, Any], line: str) -> EmfRecord:
    timestamp = aws.get("Timestamp")
    if not _is_number(timestamp):
        raise _InvalidError("_aws.Timestamp must be a number (epoch milliseconds)")
    directives = aws["CloudWatchMetrics"]
    if not isinstance(directives, list):
        raise _InvalidError("_aws.CloudWatchMetrics must be an array of metric directives")
    resolutions: dict[str, int] = {}
    parsed = tuple(_directive(document, d, resolutions) for d in directives)
    return EmfRecord(timestamp=int(timestamp or 0), directives=parsed, line=line)


def _directive(document: dict[str, Any], directive: object, resolutions: dict[str, int]) -> EmfDirective:
    if not isinstance(directive, dict):
        raise _InvalidError("a metric directive must be an object")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= MAX_NAMESPACE:
        raise _InvalidError(f"Namespace must be a string of 1-{MAX_NAMESPACE} characters")
    dimension_sets = directive.get("Dimensions", [])
    if not isinstance(dimension_sets, list):
        raise _InvalidError("Dimensions must be an array of dimension sets")
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list):
        raise _InvalidError("Metrics must be an array of metric definitions")
    if len(metrics) > MAX_METRICS:
        raise _InvalidError(f"{len(metrics)} metrics in one directive; the limit is {MAX_METRICS}")
    sets = tuple(_dimension_set(document, keys) for keys in dimension_sets)
    return EmfDirective(namespace, sets, tuple(_metric(document, m, resolutions) for m in metrics))


def _dimension_set(document: dict[str, Any], keys: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise _InvalidError("a dimension set must be an array of member names")
    if len(keys) > MAX_DIMENSIONS:
        raise _InvalidError(f"a dimension set has {len(keys)} keys; the limit is {MAX_DIMENSIONS}")
    pairs = []
    for key in keys:
        value = document.get(key)
        if not isinstance(value, str):
            raise _InvalidError(f"dimension {key!r} must name a string member of the document")
        if not key or len(key) > MAX_DIMENSION_NAME or not key.isascii() or key.startswith(":"):
            raise _InvalidError(
                f"dimension name {key[:40]!r} must be 1-{MAX_DIMENSION_NAME} ASCII characters, "
                "not starting with ':'"
            )
        if not value or len(value) > MAX_DIMENSION_VALUE or not value.isascii() or value.startswith(":"):
            raise _InvalidError(
                f"dimension {key!r} value must be 1-{MAX_DIMENSION_VALUE} ASCII characters, "
                "not starting with ':'"
            )
        pairs.append((key, value))
    return tuple(pairs)


def _metric(document: dict[str, Any], definition: object, resolutions: dict[str, int]) -> EmfMetric:
    if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str):
        raise _InvalidError("a metric definition must be an object with a Name")
    name: str = definition["Name"]
    unit = definition.get("Unit", "None")
    if unit not in UNITS:
        raise _InvalidError(f"metric {name!r}: Unit {unit!r} is not a CloudWatch unit")
    resolution = definition.get("StorageResolution", 60)
    if resolution not in RESOLUTIONS or isinstance(resolution, bool):
        raise _InvalidError(f"metric {name!r}: StorageResolution must be 1 or 60")
    if resolutions.setdefault(name, resolution) != resolution:
        raise _InvalidError(f"metric {name!r} has two storage resolutions in one event")
    if name not in document:
        raise _InvalidError(f"metric {name!r} has no member of that name in the document")
    value = document[name]
    values = value if isinstance(value, list) else [value]
    if len(values) > MAX_VALUES:
        raise _InvalidError(f"metric {name!r} has {len(values)} values; the limit is {MAX_VALUES}")
    if not values or not all(_is_number(v) and math.isfinite(v) for v in values):
        raise _InvalidError(f"metric {name!r} must be a finite number or an array of finite numbers")
    return EmfMetric(name, str(unit), int(resolution), tuple(float(v) for v in values))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
