"""Analysis: samples → per-size statistics → cost per arch → strategy picks, Pareto front, knee, advice.

Pure functions over data (no I/O). Durations use warm invocations; cold invocations are reported apart and
enter cost through an assumed cold-start share. Picks follow aws-lambda-power-tuning's strategies.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coldlab.tune.backends import Sample
from coldlab.tune.costs import CostModel

SPEED_TIE = 0.02  # durations within 2% of the fastest count as equally fast (then the cheaper wins)
COST_TIE = 0.005  # costs within 0.5% of the cheapest count as equally cheap (then the faster wins)


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


# --- picking --------------------------------------------------------------------------------------------


def pick_cost(costs: list[SizeCost]) -> SizeCost:
    cheapest = min(c.per_million for c in costs)
    near = [c for c in costs if c.per_million <= cheapest * (1 + COST_TIE)]
    return min(near, key=lambda c: (c.duration_ms, c.memory_mb))


def pick_speed(costs: list[SizeCost]) -> SizeCost:
    fastest = min(c.duration_ms for c in costs)
    near = [c for c in costs if c.duration_ms <= fastest * (1 + SPEED_TIE)]
    return min(near, key=lambda c: (c.per_million, c.memory_mb))


def pick_balanced(costs: list[SizeCost], weight: float) -> SizeCost:
    """Power tuning's balanced: minimise w·cost/maxCost + (1-w)·duration/maxDuration."""
    max_cost = max(c.per_million for c in costs) or 1.0
    max_duration = max(c.duration_ms for c in costs) or 1.0

    def score(c: SizeCost) -> tuple[float, float, int]:
        value = weight * c.per_million / max_cost + (1 - weight) * c.duration_ms / max_duration
        return (value, c.per_million, c.memory_mb)

    return min(costs, key=score)


def pareto_front(costs: list[SizeCost]) -> list[SizeCost]:
    """Sizes no other size beats on both cost and duration, cheapest first."""
    front: list[SizeCost] = []
    for c in sorted(costs, key=lambda c: (c.per_million, c.duration_ms, c.memory_mb)):
        if not front or c.duration_ms < front[-1].duration_ms:
            front.append(c)
    return front


def knee(front: list[SizeCost]) -> SizeCost | None:
    """The front's point of diminishing returns: farthest below the chord joining its two ends
    (costs and durations scaled to [0, 1]); for a straight or two-point front, the one closest to ideal."""
    if not front:
        return None
    if len(front) == 1:
        return front[0]
    costs = [c.per_million for c in front]
    durations = [c.duration_ms for c in front]
    c_span = (max(costs) - min(costs)) or 1.0
    d_span = (max(durations) - min(durations)) or 1.0
    xs = [(c - min(costs)) / c_span for c in costs]
    ys = [(d - min(durations)) / d_span for d in durations]
    # Chord from (0, 1) (cheapest, slowest) to (1, 0) (dearest, fastest): distance below it is 1 - x - y.
    distances = [(1 - x - y) / math.sqrt(2) for x, y in zip(xs, ys, strict=True)]
    best = max(range(len(front)), key=lambda i: distances[i])
    if distances[best] > 1e-9:
        return front[best]
    return front[min(range(len(front)), key=lambda i: (math.hypot(xs[i], ys[i]), costs[i]))]


def _pct(new: float, old: float) -> float:
    return (new - old) / old * 100 if old else 0.0


def explain(choice: SizeCost, cheapest: SizeCost, fastest: SizeCost) -> str:
    """One plain sentence: the pick, and what it buys or costs against the cheapest (or fastest) size."""
    if choice.memory_mb == cheapest.memory_mb:
        if fastest.memory_mb == choice.memory_mb or fastest.duration_ms >= choice.duration_ms:
            return (
                f"{choice.memory_mb} MB: the cheapest (${choice.per_million:.4g} per 1M invocations), "
                f"and no size tried is more than {SPEED_TIE:.0%} faster: more memory buys no speed here."
            )
        faster = -_pct(fastest.duration_ms, choice.duration_ms)
        dearer = _pct(fastest.per_million, choice.per_million)
        return (
            f"{choice.memory_mb} MB: the cheapest (${choice.per_million:.4g} per 1M invocations); "
            f"the fastest, {fastest.memory_mb} MB, is {faster:.0f}% faster for {dearer:.0f}% more cost."
        )
    faster = -_pct(choice.duration_ms, cheapest.duration_ms)
    dearer = _pct(choice.per_million, cheapest.per_million)
    cost_words = (
        "about the same cost" if abs(dearer) < 0.5
        else f"{dearer:.0f}% more cost" if dearer > 0
        else f"{-dearer:.0f}% less cost"
    )
    speed_words = f"{faster:.0f}% faster" if faster >= 0 else f"{-faster:.0f}% slower"
    return f"{choice.memory_mb} MB: {speed_words} than {cheapest.memory_mb} MB for {cost_words}."


@dataclass(frozen=True)
class ArchResult:
    arch: str
    costs: tuple[SizeCost, ...]
    eligible: tuple[int, ...]  # sizes allowed in picks (no more errors than the best size)
    picks: dict[str, int]  # strategy → memory size
    pareto: tuple[int, ...]
    knee: int | None
    recommended: int | None
    recommendation: str

    def cost_of(self, memory_mb: int) -> SizeCost | None:
        return next((c for c in self.costs if c.memory_mb == memory_mb), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "sizes": [c.as_dict() for c in self.costs],
            "eligible_mb": list(self.eligible),
            "picks": dict(self.picks),
            "pareto_front_mb": list(self.pareto),
            "knee_mb": self.knee,
            "recommended_mb": self.recommended,
            "recommendation": self.recommendation,
        }


@dataclass(frozen=True)
class Analysis:
    stats: tuple[SizeStats, ...]
    archs: tuple[ArchResult, ...]
    strategy: str
    weight: float
    trim: float
    cold_share: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "balanced_weight": self.weight,
            "trimmed_mean_discard": self.trim,
            "cold_share_assumed": self.cold_share,
            "speed_tie_tolerance": SPEED_TIE,
            "cost_tie_tolerance": COST_TIE,
            "sizes": [s.as_dict() for s in self.stats],
            "architectures": [a.as_dict() for a in self.archs],
            "notes": list(self.notes),
        }


def _arch_result(
    arch: str, stats: list[SizeStats], by_size: dict[int, list[Sample]], model: CostModel, *,
    strategy: str, weight: float, cold_share: float, trim: float,
) -> ArchResult:
    costs = [
        c for s in stats
        if (c := size_cost(s, by_size[s.memory_mb], model, arch=arch, cold_share=cold_share, trim=trim))
        is not None
    ]
    priced = {c.memory_mb for c in costs}
    rates = [s.error_rate for s in stats if s.memory_mb in priced]
    # A size that fails more often than the best size is out (e.g. out of memory at 128 MB), but errors
    # that happen at every size (a payload that always fails) do not rule every size out.
    best_rate = min(rates, default=1.0)
    rate_of = {s.memory_mb: s.error_rate for s in stats}
    eligible = [c for c in costs if rate_of[c.memory_mb] <= best_rate]
    if not eligible:
        return ArchResult(arch, tuple(costs), (), {}, (), None, None,
                          "No recommendation: every invocation failed at every memory size.")
    picks = {
        "cost": pick_cost(eligible),
        "speed": pick_speed(eligible),
        "balanced": pick_balanced(eligible, weight),
    }
    front = pareto_front(eligible)
    knee_point = knee(front)
    choice = picks[strategy]
    text = explain(choice, picks["cost"], picks["speed"])
    if knee_point is not None and knee_point.memory_mb != choice.memory_mb:
        text += f" The knee of the cost/speed trade-off is {knee_point.memory_mb} MB."
    return ArchResult(
        arch=arch,
        costs=tuple(costs),
        eligible=tuple(c.memory_mb for c in eligible),
        picks={k: v.memory_mb for k, v in picks.items()},
        pareto=tuple(c.memory_mb for c in front),
        knee=None if knee_point is None else knee_point.memory_mb,
        recommended=choice.memory_mb,
        recommendation=text,
    )


def analyse(
    samples: list[Sample],
    model: CostModel,
    *,
    archs: tuple[str, ...] = ("x86_64",),
    strategy: str = "cost",
    weight: float = 0.5,
    cold_share: float = 0.01,
    trim: float = 0.2,
    memory_sizes: tuple[int, ...] | None = None,
    notes: tuple[str, ...] = (),
) -> Analysis:
    sizes = memory_sizes or tuple(sorted({s.memory_mb for s in samples}))
    by_size: dict[int, list[Sample]] = {m: [] for m in sizes}
    for sample in samples:
        by_size.setdefault(sample.memory_mb, []).append(sample)
    stats = [size_stats(m, by_size[m], trim) for m in sizes]
    extra = [
        f"{s.memory_mb} MB: {s.errors} of {s.invocations} invocations failed "
        f"({', '.join(f'{k} x{v}' for k, v in s.error_types.items())})"
        for s in stats if s.errors
    ]
    results = tuple(
        _arch_result(
            arch, stats, by_size, model, strategy=strategy, weight=weight, cold_share=cold_share, trim=trim
        ) for arch in archs
    )
    return Analysis(tuple(stats), results, strategy, weight, trim, cold_share, (*notes, *extra))
