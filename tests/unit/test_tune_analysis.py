"""Tuning analysis: statistics, cost arithmetic (hand-computed), strategies, Pareto front and knee, errors."""

from __future__ import annotations

import pytest

from coldlab.tune.analysis import (
    SizeCost,
    analyse,
    distribution,
    knee,
    pareto_front,
    pick_balanced,
    pick_cost,
    pick_speed,
    trimmed_mean,
)
from coldlab.tune.backends import Sample
from coldlab.tune.costs import PricingCosts


def warm(memory: int, duration: float, billed: int | None = None, status: str = "success") -> Sample:
    return Sample(memory, False, status, duration, billed if billed is not None else int(duration) + 1,
                  error_type=None if status == "success" else "errorString")


def cold(memory: int, duration: float, init: float, billed: int) -> Sample:
    return Sample(memory, True, "success", duration, billed, init_duration_ms=init)


def point(memory: int, per_million: float, duration: float) -> SizeCost:
    return SizeCost(memory, "x86_64", per_million / 1e6, None, per_million / 1e6, per_million, 0.2, 0.0,
                    duration)


def test_trimmed_mean_drops_the_same_share_from_each_end() -> None:
    assert trimmed_mean([float(x) for x in range(1, 11)], 0.2) == 5.5
    assert trimmed_mean([1.0, 2.0, 3.0, 4.0, 100.0], 0.2) == 3.0
    assert trimmed_mean([7.0], 0.2) == 7.0


def test_distribution_percentiles() -> None:
    d = distribution([float(x) for x in range(1, 101)], 0.2)
    assert d is not None
    assert d.count == 100
    assert d.p50 == pytest.approx(50.5)
    assert d.p90 == pytest.approx(90.1)
    assert d.p99 == pytest.approx(99.01)
    assert d.mean == pytest.approx(50.5)
    assert (d.min, d.max) == (1.0, 100.0)
    assert distribution([], 0.2) is None


def test_cost_arithmetic_against_hand_computed_values() -> None:
    # 512 MB = 0.5 GB. Warm: billed 100 ms. Cold: billed 150 ms (REPORT's Billed Duration includes init).
    samples = [warm(512, 99.2, 100) for _ in range(10)] + [cold(512, 99.5, 50.0, 150)]
    result = analyse(samples, PricingCosts(), archs=("x86_64", "arm64"), cold_share=0.01)
    x86 = result.archs[0].cost_of(512)
    arm = result.archs[1].cost_of(512)
    assert x86 is not None and arm is not None
    # x86: $0.20/1M requests = 2e-7; 0.5 GB x 0.100 s x $0.0000166667 = 8.33335e-7.
    assert x86.warm_per_invocation == pytest.approx(2e-7 + 8.33335e-7, rel=1e-9)
    # cold: 0.5 GB x 0.150 s x $0.0000166667 = 1.2500025e-6.
    assert x86.cold_per_invocation == pytest.approx(2e-7 + 1.2500025e-6, rel=1e-9)
    # per 1M at 1% cold: 0.99 x 1.033335e-6 + 0.01 x 1.4500025e-6 = 1.037501675e-6.
    assert x86.per_million == pytest.approx(1.037501675, rel=1e-9)
    assert x86.requests_per_million == pytest.approx(0.2)
    assert x86.cold_extra_per_million == pytest.approx(0.01 * (1.4500025e-6 - 1.033335e-6) * 1e6, rel=1e-9)
    # arm64: 0.5 GB x 0.100 s x $0.0000133334 = 6.6667e-7.
    assert arm.warm_per_invocation == pytest.approx(2e-7 + 6.6667e-7, rel=1e-9)
    stats = result.stats[0]
    assert stats.cold_count == 1
    assert stats.init_duration is not None and stats.init_duration.mean == 50.0
    assert stats.warm_duration is not None and stats.warm_duration.p50 == pytest.approx(99.2)


def test_cost_of_128_mb_at_1_ms_billing() -> None:
    # 128 MB, 3 ms: 0.125 GB x 0.003 s x $0.0000166667 = 6.250012e-9, + 2e-7 request = 2.06250012e-7.
    result = analyse([warm(128, 2.1, 3)], PricingCosts(), cold_share=0.0)
    cost = result.archs[0].cost_of(128)
    assert cost is not None
    assert cost.per_invocation == pytest.approx(2.0625001e-7, rel=1e-7)


def test_strategies_follow_power_tuning() -> None:
    costs = [point(128, 1.0, 100.0), point(512, 1.3, 40.0), point(1024, 2.0, 39.9), point(2048, 4.0, 20.0)]
    assert pick_cost(costs).memory_mb == 128
    assert pick_speed(costs).memory_mb == 2048
    assert pick_balanced(costs, 1.0).memory_mb == pick_cost(costs).memory_mb
    assert pick_balanced(costs, 0.0).memory_mb == pick_speed(costs).memory_mb
    # w=0.5: 128: .5*.25+.5*1=.625; 512: .5*.325+.5*.4=.3625; 1024: .5*.5+.5*.399=.45; 2048: .5+.1=.6
    assert pick_balanced(costs, 0.5).memory_mb == 512


def test_ties_go_to_the_faster_or_the_cheaper() -> None:
    same_cost = [point(128, 1.0, 30.0), point(256, 1.0, 20.0)]
    assert pick_cost(same_cost).memory_mb == 256
    same_speed = [point(1769, 2.0, 20.0), point(3008, 3.0, 19.9)]  # within 2%: the cheaper wins
    assert pick_speed(same_speed).memory_mb == 1769


def test_pareto_front_and_knee() -> None:
    costs = [
        point(128, 1.0, 100.0),
        point(256, 1.1, 50.0),
        point(512, 1.2, 30.0),
        point(768, 1.5, 35.0),  # dominated by 512 (dearer and slower)
        point(1024, 3.0, 25.0),
    ]
    front = pareto_front(costs)
    assert [c.memory_mb for c in front] == [128, 256, 512, 1024]
    # Scaled: x = 0, .05, .1, 1; y = 1, .333, .067, 0 → farthest below the chord: 512 MB.
    found = knee(front)
    assert found is not None and found.memory_mb == 512
    assert knee([]) is None
    two = knee([point(128, 1.0, 10.0), point(256, 2.0, 5.0)])
    assert two is not None and two.memory_mb == 128


def test_recommendation_in_plain_words() -> None:
    samples = [warm(512, 100.0, 100) for _ in range(5)] + [warm(1024, 59.0, 59) for _ in range(5)]
    result = analyse(samples, PricingCosts(), strategy="speed", cold_share=0.0)
    arch = result.archs[0]
    assert arch.recommended == 1024
    assert arch.recommendation.startswith("1024 MB: 41% faster than 512 MB for ")
    assert "more cost" in arch.recommendation


def test_errors_are_reported_per_size_and_exclude_that_size() -> None:
    samples = (
        [warm(128, 5.0, status="error") for _ in range(4)]  # e.g. out of memory at 128 MB
        + [warm(256, 50.0) for _ in range(4)]
        + [warm(512, 40.0) for _ in range(4)]
    )
    result = analyse(samples, PricingCosts())
    by_size = {s.memory_mb: s for s in result.stats}
    assert by_size[128].errors == 4
    assert by_size[128].error_types == {"errorString": 4}
    assert by_size[128].warm_duration is None  # failures never enter the averages
    assert 128 not in result.archs[0].eligible
    assert result.archs[0].recommended == 256
    assert any("128 MB: 4 of 4 invocations failed" in note for note in result.notes)
    assert result.as_dict()["sizes"][0]["errors"] == 4


def test_errors_at_every_size_do_not_rule_every_size_out() -> None:
    samples = []
    for memory in (128, 256):
        samples += [warm(memory, 10.0), warm(memory, 10.0, status="error")]
    result = analyse(samples, PricingCosts())
    assert result.archs[0].eligible == (128, 256)
    assert all(s.errors == 1 for s in result.stats)


def test_a_function_that_always_fails_gets_no_recommendation() -> None:
    samples = [warm(m, 3.0, status="error") for m in (128, 512) for _ in range(3)]
    result = analyse(samples, PricingCosts())
    arch = result.archs[0]
    assert arch.recommended is None
    assert arch.recommendation.startswith("No recommendation: every invocation failed")
    assert [s.errors for s in result.stats] == [3, 3]
