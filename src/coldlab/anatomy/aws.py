"""`--target aws:NAME`: the measured rows real Lambda can fill, from its REPORT and INIT_REPORT lines.

Cold starts are forced as `coldlab tune` forces them (its AWS backend: a fresh environment variable per cold
start, the configuration restored on exit); `--endpoint-url` is honoured, so this runs against `coldlab serve`
too. Lambda reports Init Duration, the first request's Duration and the warm ones; the phases inside init are
not visible from outside (the Telemetry API's platform.initReport needs an extension in the function).
"""

from __future__ import annotations

import re
from typing import Any

from coldlab.anatomy.timeline import percentile
from coldlab.tune.backends import SizeWork
from coldlab.tune.backends.aws import AwsBackend, make_client

_INIT_REPORT = re.compile(r"INIT_REPORT Init Duration: ([0-9.]+) ms\s+Phase: (\w+)\s+Status: (\w+)")


class _TailKeepingBackend(AwsBackend):
    """tune's AWS backend, keeping each invoke's log tail (for INIT_REPORT lines)."""

    tails: list[str]

    def tail_seen(self, tail: str) -> None:
        self.tails.append(tail)


def _band(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"p50_ms": round(percentile(values, 50), 3), "p90_ms": round(percentile(values, 90), 3)}


async def measure_aws(
    function_name: str,
    *,
    region: str | None,
    endpoint_url: str | None,
    memory_mb: int | None,
    runs: int,
    warm: int,
    event: bytes,
    timeout_s: int = 30,
) -> dict[str, Any]:
    """Force `runs` cold starts (and `warm` warm invokes) of a real function; its figures, JSON-ready."""
    backend = _TailKeepingBackend(function_name, make_client(region, endpoint_url, timeout_s))
    backend.tails = []
    async with backend:
        size = memory_mb or backend.original_memory_mb or 128
        work = SizeWork(
            size, tuple(event for _ in range(warm)), max(runs, 1), 1, timeout_s, first_event=event
        )
        samples = await backend.measure(work, lambda _sample: None)
        fidelity = backend.fidelity(size)
    cold = [s for s in samples if s.cold]
    warm_samples = [s.duration_ms for s in samples if not s.cold and s.ok]
    warm_median = percentile(warm_samples, 50) if warm_samples else None
    extra = [s.duration_ms - warm_median for s in cold if warm_median is not None and s.ok]
    init_reports = [m.group(0) for tail in backend.tails for m in _INIT_REPORT.finditer(tail)]
    return {
        "function": function_name,
        "endpoint": str(backend.client.meta.endpoint_url),
        "memory_mb": size,
        "fidelity": fidelity,
        "cold_starts": len(cold),
        "invocations": len(samples),
        "init_duration_ms": _band([s.init_duration_ms for s in cold if s.init_duration_ms is not None]),
        "first_duration_ms": _band([s.duration_ms for s in cold]),
        "warm_median_ms": None if warm_median is None else round(warm_median, 3),
        "first_request_extra_ms": _band(extra),
        "max_memory_used_mb": max((s.max_memory_used_mb for s in samples), default=0),
        "init_reports": init_reports,
        "errors": [f"{s.error_type}" for s in samples if not s.ok],
    }
