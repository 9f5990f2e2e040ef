"""Picking a memory size: power tuning's strategies (cost, speed, balanced), the Pareto front, its knee,
and the plain-words sentence that explains a pick."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

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


def _faster(fast: float, slow: float) -> str:
    """'3.2x faster' from 2x up (a 90% cut in time reads better as 10x), else '41% faster'."""
    if fast > 0 and slow / fast >= 2:
        return f"{slow / fast:.1f}x faster"
    return f"{-_pct(fast, slow):.0f}% faster"


def _ms(value: float) -> str:
    return f"{value:.3g} ms"


def explain(
    choice: SizeCost,
    cheapest: SizeCost,
    fastest: SizeCost,
    sizes: Sequence[SizeCost] = (),
    p50: Mapping[int, float | None] | None = None,
) -> str:
    """One plain sentence: the pick, and what it buys or costs against the cheapest (or fastest) size.

    Every claim about speed is checked against the figures the report shows (the speed figure the
    strategies use, and the warm p50 when given): "more memory buys no speed" is said only when no larger
    size is more than SPEED_TIE faster on either.
    """
    if choice.memory_mb != cheapest.memory_mb:
        faster = -_pct(choice.duration_ms, cheapest.duration_ms)
        dearer = _pct(choice.per_million, cheapest.per_million)
        cost_words = (
            "about the same cost" if abs(dearer) < 0.5
            else f"{dearer:.0f}% more cost" if dearer > 0
            else f"{-dearer:.0f}% less cost"
        )
        speed_words = (
            _faster(choice.duration_ms, cheapest.duration_ms) if faster >= 0 else f"{-faster:.0f}% slower"
        )
        return f"{choice.memory_mb} MB: {speed_words} than {cheapest.memory_mb} MB for {cost_words}."
    head = f"{choice.memory_mb} MB: the cheapest (${choice.per_million:.4g} per 1M invocations)"
    if fastest.memory_mb != choice.memory_mb and fastest.duration_ms < choice.duration_ms:
        dearer = _pct(fastest.per_million, choice.per_million)
        return (
            f"{head}; the fastest, {fastest.memory_mb} MB, is "
            f"{_faster(fastest.duration_ms, choice.duration_ms)} for {dearer:.0f}% more cost."
        )
    p50 = p50 or {}
    own = p50.get(choice.memory_mb)
    larger = [c for c in sizes if c.memory_mb > choice.memory_mb]
    # a larger size faster at p50 although not on the speed figure (a bimodal or throttled run)
    quicker = [
        (c, q) for c in larger if own is not None and (q := p50.get(c.memory_mb)) is not None
        and q < own * (1 - SPEED_TIE)
    ]
    if quicker and own is not None:
        best, q = min(quicker, key=lambda cq: (cq[1], cq[0].per_million))
        dearer = _pct(best.per_million, choice.per_million)
        return (
            f"{head}; {best.memory_mb} MB is {_faster(q, own)} at p50 ({_ms(q)} against {_ms(own)}) "
            f"but not on the trimmed mean the strategies rank by ({_ms(best.duration_ms)} against "
            f"{_ms(choice.duration_ms)}), for {dearer:.0f}% more cost."
        )
    smaller = [c for c in sizes if c.memory_mb < choice.memory_mb]
    slower = [c for c in smaller if c.duration_ms > choice.duration_ms * (1 + SPEED_TIE)]
    if slower:  # the pick is itself more memory, and faster for it
        slowest = max(slower, key=lambda c: c.duration_ms)
        tail = "no larger size tried is faster" if larger else "it is the largest size tried"
        return (
            f"{head} and the fastest: {_faster(choice.duration_ms, slowest.duration_ms)} than "
            f"{slowest.memory_mb} MB ({_ms(choice.duration_ms)} against {_ms(slowest.duration_ms)}); {tail}."
        )
    if not larger:
        return f"{head}; no larger size was tried, so whether more memory buys speed is not measured."
    return (
        f"{head}, and no larger size tried is more than {SPEED_TIE:.0%} faster: "
        "more memory buys no speed here."
    )
