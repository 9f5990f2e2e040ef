"""The recommendation sentence follows the figures the report shows (issue 11 item 8)."""

from __future__ import annotations

from coldlab.tune.analysis import analyse
from coldlab.tune.backends import Sample
from coldlab.tune.costs import PricingCosts


def warm(memory: int, duration: float) -> Sample:
    return Sample(memory, False, "success", duration, int(duration) + 1)


def cold(memory: int, duration: float, init: float) -> Sample:
    return Sample(memory, True, "success", duration, int(duration + init) + 1, init_duration_ms=init)


def test_a_larger_pick_that_is_ten_times_faster_is_not_called_no_speed() -> None:
    # CPU-bound: 512 MB runs 10x faster than 128 MB, so it is also the cheapest (4x the price per ms)
    samples = [warm(128, 200.0) for _ in range(8)] + [warm(512, 20.0) for _ in range(8)]
    arch = analyse(samples, PricingCosts(), cold_share=0.0).archs[0]
    assert arch.recommended == 512
    text = arch.recommendation
    assert "buys no speed" not in text
    assert "10.0x faster than 128 MB" in text, text
    assert "largest size tried" in text


def test_a_size_faster_at_p50_is_named_even_when_the_trimmed_mean_is_not() -> None:
    # 512 MB: p50 1 ms, but a slow third (a throttled tail) lifts its trimmed mean above 128 MB's
    samples = [warm(128, 10.0) for _ in range(10)]
    samples += [warm(512, 1.0) for _ in range(6)] + [warm(512, 50.0) for _ in range(4)]
    result = analyse(samples, PricingCosts(), cold_share=0.0)
    arch = result.archs[0]
    assert arch.recommended == 128
    by_size = {s.memory_mb: s for s in result.stats}
    warm128, warm512 = by_size[128].warm_duration, by_size[512].warm_duration
    assert warm128 is not None and warm512 is not None
    assert warm512.p50 * 10 <= warm128.p50  # the figure the table shows
    text = arch.recommendation
    assert "buys no speed" not in text
    assert "512 MB is 10.0x faster at p50" in text, text


def test_no_speed_is_said_only_when_no_larger_size_is_faster() -> None:
    samples = [warm(128, 10.0) for _ in range(6)] + [warm(1024, 10.05) for _ in range(6)]
    arch = analyse(samples, PricingCosts(), cold_share=0.0).archs[0]
    assert arch.recommended == 128
    assert arch.recommendation.endswith("more memory buys no speed here.")


def test_a_single_size_makes_no_claim_about_more_memory() -> None:
    arch = analyse([warm(256, 10.0) for _ in range(3)], PricingCosts()).archs[0]
    assert "buys no speed" not in arch.recommendation
    assert "no larger size was tried" in arch.recommendation


def test_a_pick_resting_on_cold_starts_only_says_so() -> None:
    samples = [cold(128, 5.0, 40.0), cold(256, 4.0, 38.0)]
    samples += [Sample(m, False, "error", 1.0, 2, error_type="errorString") for m in (128, 256)]
    notes = analyse(samples, PricingCosts()).notes
    assert any("128 MB: no warm invocation succeeded" in n and "cold starts only" in n for n in notes), notes
