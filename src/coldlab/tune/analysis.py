"""Analysis: samples → per-size statistics → cost per arch → strategy picks, Pareto front, knee, advice.

The statistics live in `tune.stats`, the picking rules in `tune.strategies`; this module puts them together
per architecture and says which sizes may be recommended at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coldlab.tune.backends import Sample
from coldlab.tune.costs import CostModel
from coldlab.tune.stats import (
    Distribution,
    SizeCost,
    SizeStats,
    distribution,
    size_cost,
    size_stats,
    trimmed_mean,
)
from coldlab.tune.strategies import (
    COST_TIE,
    SPEED_TIE,
    explain,
    knee,
    pareto_front,
    pick_balanced,
    pick_cost,
    pick_speed,
)

__all__ = [
    "Analysis",
    "ArchResult",
    "Distribution",
    "SizeCost",
    "SizeStats",
    "analyse",
    "distribution",
    "knee",
    "pareto_front",
    "pick_balanced",
    "pick_cost",
    "pick_speed",
    "trimmed_mean",
]


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
    p50 = {s.memory_mb: s.warm_duration.p50 if s.warm_duration else None for s in stats}
    text = explain(choice, picks["cost"], picks["speed"], eligible, p50)
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
    extra += [
        f"{s.memory_mb} MB: no warm invocation succeeded; its speed and cost rest on cold starts only"
        for s in stats if s.warm_duration is None and s.cold_duration is not None
    ]
    results = tuple(
        _arch_result(
            arch, stats, by_size, model, strategy=strategy, weight=weight, cold_share=cold_share, trim=trim
        ) for arch in archs
    )
    return Analysis(tuple(stats), results, strategy, weight, trim, cold_share, (*notes, *extra))
