"""Running totals of the EMF metrics each served function prints, for the status JSON and the dashboard.

A function's own metrics (e.g. the seed's `ColdStart` counter) sit beside coldlab's cold/warm truth there;
invalid EMF lines are counted and the last one is kept, so a dashboard can flag them instead of the metric
silently missing. Totals are per (namespace, metric name, unit): every dimension set of a directive publishes
the same values, so they are counted once per directive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from coldlab.platform.emf import EmfRecord


@dataclass
class _Metric:
    count: int = 0  # values seen
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")


@dataclass
class _Function:
    events: int = 0  # valid EMF events
    invalid: int = 0
    last_invalid: dict[str, Any] | None = None
    metrics: dict[tuple[str, str, str], _Metric] = field(default_factory=dict)


class EmfTotals:
    """Per function: EMF events, their metrics' count/sum/min/max, invalid lines."""

    def __init__(self) -> None:
        self._functions: dict[str, _Function] = {}

    def add(self, function: str, records: Iterable[EmfRecord]) -> None:
        tally: _Function | None = None
        for record in records:
            tally = tally or self._functions.setdefault(function, _Function())
            if not record.valid:
                tally.invalid += 1
                tally.last_invalid = record.as_dict()
                continue
            tally.events += 1
            for directive in record.directives:
                for metric in directive.metrics:
                    key = (directive.namespace, metric.name, metric.unit)
                    kept = tally.metrics.setdefault(key, _Metric())
                    kept.count += len(metric.values)
                    kept.total += sum(metric.values)
                    kept.low = min(kept.low, *metric.values)
                    kept.high = max(kept.high, *metric.values)

    def forget(self, function: str) -> None:
        self._functions.pop(function, None)

    def describe(self, function: str) -> dict[str, Any]:
        tally = self._functions.get(function) or _Function()
        return {
            "events": tally.events,
            "invalid": tally.invalid,
            "last_invalid": tally.last_invalid,
            "metrics": [
                {
                    "namespace": namespace,
                    "name": name,
                    "unit": unit,
                    "count": kept.count,
                    "sum": kept.total,
                    "min": kept.low,
                    "max": kept.high,
                }
                for (namespace, name, unit), kept in sorted(tally.metrics.items())
            ],
        }
