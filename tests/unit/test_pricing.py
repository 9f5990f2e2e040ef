"""Pricing arithmetic against hand-computed values (us-east-1 list prices in the bundled table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coldlab.errors import UsageError
from coldlab.pricing import (
    PriceTable,
    cloud_run_billed_s,
    cloud_run_cost,
    lambda_billed_ms,
    lambda_cost,
    lambda_invocation_cost,
    lambda_tiered_duration_cost,
    load_prices,
    pc_break_even_utilisation,
    provisioned_concurrency_cost,
)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return load_prices()


def test_bundled_table_is_dated_and_sourced(prices: PriceTable) -> None:
    assert prices.date == "2026-11-26"
    assert "aws.amazon.com/lambda/pricing" in prices.sources["lambda"]
    assert prices.lambda_gb_second("x86_64") == 0.0000166667
    assert prices.lambda_gb_second("arm64") == 0.0000133334
    assert prices.lambda_request == 0.0000002


def test_invocation_cost_128mb_100ms(prices: PriceTable) -> None:
    # 0.2e-6 + 0.125 GB * 0.1 s * 16.6667e-6
    assert lambda_invocation_cost(
        prices, memory_mb=128, billed_duration_ms=100, arch="x86_64"
    ) == pytest.approx(4.0833375e-7, rel=1e-12)


def test_invocation_cost_rounds_up_to_1ms(prices: PriceTable) -> None:
    # 12.3 ms bills as 13 ms: 0.2e-6 + 1 GB * 0.013 s * 16.6667e-6
    cost = lambda_invocation_cost(prices, memory_mb=1024, billed_duration_ms=12.3)
    assert cost == pytest.approx(2e-7 + 0.013 * 0.0000166667, rel=1e-12)
    assert lambda_billed_ms(12.0) == 12
    assert lambda_billed_ms(12.000000000001) == 12
    assert lambda_billed_ms(0.2) == 1


def test_invocation_cost_bills_init_on_arm64(prices: PriceTable) -> None:
    # 50 ms + INIT 49.2 ms -> 50 ms: 100 ms at 0.5 GB * 13.3334e-6
    cost = lambda_invocation_cost(
        prices, memory_mb=512, billed_duration_ms=50, arch="arm64", init_billed_ms=49.2
    )
    assert cost == pytest.approx(2e-7 + 0.5 * 0.1 * 0.0000133334, rel=1e-12)


def test_ephemeral_storage_above_free_512mb(prices: PriceTable) -> None:
    base = lambda_invocation_cost(prices, memory_mb=1024, billed_duration_ms=1000)
    more = lambda_invocation_cost(prices, memory_mb=1024, billed_duration_ms=1000, ephemeral_mb=1536)
    assert more - base == pytest.approx(1.0 * 1.0 * 0.0000000309, rel=1e-9)


def test_volume_tiers_x86(prices: PriceTable) -> None:
    # 10 B GB-s: 6 B at 16.6667e-6 + 4 B at 15e-6
    assert lambda_tiered_duration_cost(prices, 10e9, "x86_64") == pytest.approx(100000.2 + 60000.0, rel=1e-12)
    # Starting already inside tier 3
    assert lambda_tiered_duration_cost(prices, 1e9, "x86_64", 20e9) == pytest.approx(13333.4, rel=1e-12)


def test_lambda_cost_breakdown_and_free_tier(prices: PriceTable) -> None:
    bill = lambda_cost(prices, requests=3e6, duration_gb_seconds=500000, init_gb_seconds=1000)
    assert bill.requests == pytest.approx(0.6)
    assert bill.duration == pytest.approx(500000 * 0.0000166667)
    assert bill.init == pytest.approx(1000 * 0.0000166667)
    free = lambda_cost(prices, requests=3e6, duration_gb_seconds=500000, init_gb_seconds=1000, free_tier=True)
    assert free.requests == pytest.approx(0.4)
    assert free.duration == pytest.approx(100000 * 0.0000166667)
    assert free.total == pytest.approx(0.4 + 101000 * 0.0000166667)


def test_provisioned_concurrency_month_and_rounding(prices: PriceTable) -> None:
    month = provisioned_concurrency_cost(prices, memory_mb=128, concurrency=1, seconds=730 * 3600)
    assert month == pytest.approx(0.125 * 730 * 3600 * 0.0000041667)  # ~ $1.37 (reference §2.1)
    assert round(month, 2) == 1.37
    # 301 s is billed as 600 s (5-minute rounding)
    assert provisioned_concurrency_cost(prices, memory_mb=1024, concurrency=2, seconds=301) == pytest.approx(
        2 * 600 * 0.0000041667
    )


def test_pc_break_even_is_60_percent(prices: PriceTable) -> None:
    assert pc_break_even_utilisation(prices, "x86_64") == pytest.approx(0.6, abs=1e-4)
    assert pc_break_even_utilisation(prices, "arm64") == pytest.approx(0.6, abs=1e-4)


def test_cloud_run_idle_min_instance_month(prices: PriceTable) -> None:
    month = 30 * 86400
    idle = cloud_run_cost(
        prices, vcpu=1, memory_gib=0.5, requests=0, active_instance_seconds=0, idle_min_instance_seconds=month
    )
    assert idle.total == pytest.approx(9.72)
    inst = cloud_run_cost(
        prices, vcpu=1, memory_gib=0.5, requests=1e6, active_instance_seconds=month, billing="instance"
    )
    assert inst.total == pytest.approx(49.248)  # no request fee under instance billing


def test_cloud_run_request_billing_and_100ms_rounding(prices: PriceTable) -> None:
    assert cloud_run_billed_s(0.101) == pytest.approx(0.2)
    assert cloud_run_billed_s(0.1) == pytest.approx(0.1)
    bill = cloud_run_cost(prices, vcpu=2, memory_gib=1, requests=1e6, active_instance_seconds=1000)
    assert bill.requests == pytest.approx(0.4)
    assert bill.duration == pytest.approx(1000 * (2 * 0.000024 + 0.0000025))


def test_user_price_file(tmp_path: Path, prices: PriceTable) -> None:
    bundled = json.loads(
        Path(__file__).parents[2].joinpath("src/coldlab/data/prices-2026-11-26.json").read_text()
    )
    bundled["lambda"]["request"] = 0.0000003
    bundled["date"] = "2030-01-01"
    own = tmp_path / "own.json"
    own.write_text(json.dumps(bundled))
    table = load_prices(own)
    assert table.date == "2030-01-01"
    assert table.lambda_request == 0.0000003
    assert table.origin == str(own)


def test_bad_price_files_name_the_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "date": oops\n}')
    with pytest.raises(UsageError, match=r"broken.json:2:.*not JSON"):
        load_prices(broken)
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"date": "x", "lambda": {"request": -1}}))
    with pytest.raises(UsageError, match=r"missing key lambda\.architectures"):
        load_prices(missing)
    with pytest.raises(UsageError, match="cannot read"):
        load_prices(tmp_path / "nope.json")


def test_unknown_arch(prices: PriceTable) -> None:
    with pytest.raises(UsageError, match="unknown architecture"):
        prices.lambda_gb_second("riscv")
