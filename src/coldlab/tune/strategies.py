"""Picking a memory size: power tuning's strategies (cost, speed, balanced), the Pareto front, its knee,
and the plain-words sentence that explains a pick."""

from __future__ import annotations

import math

from coldlab.tune.stats import SizeCost

SPEED_TIE = 0.02  # durations within 2% of the fastest count as equally fast (then the cheaper wins)
COST_TIE = 0.005  # costs within 0.5% of the cheapest count as equally cheap (then the faster wins)


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
