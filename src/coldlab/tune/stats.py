"""Per-size statistics and cost: samples → percentiles and trimmed means → cost per invocation and per 1M.

Pure functions over data. Durations use warm invocations; cold ones are reported apart and enter cost through
an assumed cold-start share (their Billed Duration already includes init).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from coldlab.tune.backends import Sample
from coldlab.tune.costs import CostModel


@dataclass(frozen=True)
class Distribution:
    count: int
    p50: float
    p90: float
    p99: float
    mean: float
    trimmed_mean: float
    min: float
    max: float

    def as_dict(self) -> dict[str, float | int]:
        return {k: (v if isinstance(v, int) else round(v, 3)) for k, v in self.__dict__.items()}


def trimmed_mean(values: list[float], trim: float) -> float:
    """Power tuning's average: sort, drop floor(n*trim) from each end, take the mean of the rest."""
    ordered = sorted(values)
    cut = math.floor(len(ordered) * trim)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return float(sum(kept) / len(kept))


def distribution(values: list[float], trim: float) -> Distribution | None:
    if not values:
        return None
    array = np.asarray(values, dtype=float)
    p50, p90, p99 = (float(x) for x in np.percentile(array, [50, 90, 99]))
    return Distribution(
        count=len(values),
        p50=p50,
        p90=p90,
        p99=p99,
        mean=float(array.mean()),
        trimmed_mean=trimmed_mean(values, trim),
        min=float(array.min()),
        max=float(array.max()),
    )


@dataclass(frozen=True)
class SizeStats:
    """What happened at one memory size."""

    memory_mb: int
    invocations: int
    errors: int
    error_types: dict[str, int]
    warm_duration: Distribution | None
    warm_billed: Distribution | None
    cold_count: int
    cold_duration: Distribution | None  # the first invoke's own duration (without init)
    init_duration: Distribution | None
    max_memory_used_mb: int

    @property
    def ok(self) -> int:
        return self.invocations - self.errors

    @property
    def error_rate(self) -> float:
        return self.errors / self.invocations if self.invocations else 1.0

    @property
    def speed_ms(self) -> float | None:
        """Typical latency: the warm trimmed mean; for cold-only runs, the cold duration plus init."""
        if self.warm_duration is not None:
            return self.warm_duration.trimmed_mean
        if self.cold_duration is not None:
            init = self.init_duration.mean if self.init_duration is not None else 0.0
            return self.cold_duration.trimmed_mean + init
        return None

    def as_dict(self) -> dict[str, Any]:
        def opt(d: Distribution | None) -> dict[str, float | int] | None:
            return None if d is None else d.as_dict()

        return {
            "memory_mb": self.memory_mb,
            "invocations": self.invocations,
            "ok": self.ok,
            "errors": self.errors,
            "error_types": dict(self.error_types),
            "warm_duration_ms": opt(self.warm_duration),
            "warm_billed_duration_ms": opt(self.warm_billed),
            "cold_invocations": self.cold_count,
            "cold_duration_ms": opt(self.cold_duration),
            "init_duration_ms": opt(self.init_duration),
            "max_memory_used_mb": self.max_memory_used_mb,
        }


def size_stats(memory_mb: int, samples: list[Sample], trim: float) -> SizeStats:
    warm = [s for s in samples if s.ok and not s.cold]
    cold = [s for s in samples if s.ok and s.cold]
    failed = [s for s in samples if not s.ok]
    return SizeStats(
        memory_mb=memory_mb,
        invocations=len(samples),
        errors=len(failed),
        error_types=dict(Counter(s.error_type or s.status for s in failed)),
        warm_duration=distribution([s.duration_ms for s in warm], trim),
        warm_billed=distribution([float(s.billed_duration_ms) for s in warm], trim),
        cold_count=len([s for s in samples if s.cold]),
        cold_duration=distribution([s.duration_ms for s in cold], trim),
        # Init ran (and is billed) even when the handler then failed, so every cold sample's init counts.
        init_duration=distribution(
            [s.init_duration_ms for s in samples if s.cold and s.init_duration_ms is not None], trim
        ),
        max_memory_used_mb=max((s.max_memory_used_mb for s in samples), default=0),
    )


@dataclass(frozen=True)
class SizeCost:
    """Cost of one memory size on one architecture, in USD."""

    memory_mb: int
    arch: str
    warm_per_invocation: float  # trimmed mean over warm invocations
    cold_per_invocation: float | None  # mean over cold invocations (billed duration includes init)
    per_invocation: float  # expected, with the assumed cold-start share
    per_million: float
    requests_per_million: float
    cold_extra_per_million: float  # what cold starts add at the assumed share
    duration_ms: float  # the speed figure the strategies use

    def as_dict(self) -> dict[str, Any]:
        return {
            "memory_mb": self.memory_mb,
            "arch": self.arch,
            "warm_cost_per_invocation": self.warm_per_invocation,
            "cold_cost_per_invocation": self.cold_per_invocation,
            "cost_per_invocation": self.per_invocation,
            "cost_per_million": round(self.per_million, 6),
            "requests_per_million": round(self.requests_per_million, 6),
            "cold_starts_per_million": round(self.cold_extra_per_million, 6),
            "duration_ms": round(self.duration_ms, 3),
        }


def size_cost(
    stats: SizeStats, samples: list[Sample], model: CostModel, *, arch: str, cold_share: float, trim: float
) -> SizeCost | None:
    """None when the size has no successful invocation to price."""
    speed = stats.speed_ms
    ok = [s for s in samples if s.ok]
    if speed is None or not ok:
        return None
    warm = [model.invocation(s.memory_mb, s.billed_duration_ms, arch) for s in ok if not s.cold]
    cold = [model.invocation(s.memory_mb, s.billed_duration_ms, arch) for s in ok if s.cold]
    cold_cost = sum(cold) / len(cold) if cold else None
    warm_cost = trimmed_mean(warm, trim) if warm else (cold_cost or 0.0)
    share = cold_share if cold_cost is not None and warm else (1.0 if not warm else 0.0)
    expected = (1 - share) * warm_cost + share * (cold_cost if cold_cost is not None else warm_cost)
    cold_extra = share * ((cold_cost or warm_cost) - warm_cost) * 1e6 if warm else 0.0
    return SizeCost(
        memory_mb=stats.memory_mb,
        arch=arch,
        warm_per_invocation=warm_cost,
        cold_per_invocation=cold_cost,
        per_invocation=expected,
        per_million=expected * 1e6,
        requests_per_million=model.request() * 1e6,
        cold_extra_per_million=cold_extra,
        duration_ms=speed,
    )
