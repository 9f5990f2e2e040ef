"""The anatomy's pure parts: the modelled platform rows, the init split from timestamps, the per-module roll-up,
percentiles, the advice order, and the init CPU allowance setting."""

from __future__ import annotations

import os

import pytest

from coldlab.anatomy import platform_model as pm
from coldlab.anatomy.advice import advise
from coldlab.anatomy.network import NetworkCall
from coldlab.anatomy.timeline import ModuleInit, PackageInit, percentile, roll_up, split_init
from coldlab.errors import UsageError
from coldlab.inspect.inittrace import InitEntry
from coldlab.sandbox import Limits
from coldlab.sandbox.initcpu import INIT_CPU_VAR, init_cpu_allowance, init_cpu_text

MiB = 1 << 20


@pytest.mark.parametrize(
    ("mib", "low", "high"),
    [(1, 15, 25), (4.9, 25, 30), (10, 30, 80), (19, 30, 80), (30, 80, 200), (49, 80, 200), (60, 200, 300)],
)
def test_download_follows_the_seed_bands(mib: float, low: float, high: float) -> None:
    assert low <= pm.download_ms(int(mib * MiB)) <= high
    band = pm.download(int(mib * MiB))
    assert band.p90_ms > band.p50_ms and "seed's size bands" in band.source


def test_download_grows_with_size_and_savings_are_its_difference() -> None:
    sizes = [int(m * MiB) for m in (0, 0.5, 3, 5, 8, 20, 33, 50, 51, 120)]
    times = [pm.download_ms(s) for s in sizes]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert pm.download_saving_ms(30 * MiB, 10 * MiB) == pytest.approx(pm.download_ms(30 * MiB) - pm.download_ms(20 * MiB))
    assert pm.download_saving_ms(30 * MiB, 0) == 0


def test_lambdas_own_init_work_is_calibrated_to_the_published_figures() -> None:
    for arch, table in pm.PUBLISHED_INIT_MS.items():
        overhead = pm.lambda_init_overhead(arch)
        assert overhead.p90_ms > overhead.p50_ms and "lambda-perf" in overhead.source
        assert all(overhead.p50_ms < published for published in table.values())
    assert pm.lambda_init_overhead("arm64").p50_ms < pm.lambda_init_overhead("x86_64").p50_ms
    assert "Shilkov" in pm.PROVISIONING.source


def entry(package: str, module: str, start: float, clock: float, size: int = 0, allocs: int = 0) -> InitEntry:
    return InitEntry(package, module, start, clock, size, allocs)


def test_the_init_split_adds_up_to_init_duration() -> None:
    # exec at t=100 s; the runtime started at 100.010 s (the first line's bound); Init Duration 50 ms
    traced = [
        (100.012, entry("runtime", "std", 1.0, 1.0)),
        (100.0365, entry("main", "example.com/fn", 5.0, 20.0)),  # arrived 0.5 ms after it was written
    ]
    split = split_init(100.0, 50.0, traced)
    assert split is not None
    assert split.exec_to_first_init_ms == pytest.approx(11.0)
    assert split.module_inits_ms == pytest.approx(20.0)  # main's traced clock
    assert split.runtime_ms == pytest.approx(4.0)  # the rest of the span: std's 1 ms and the runtime's gaps
    assert split.main_before_next_ms == pytest.approx(15.0)
    total = split.exec_to_first_init_ms + split.runtime_ms + split.module_inits_ms + split.main_before_next_ms
    assert total == pytest.approx(50.0)
    assert split_init(100.0, 50.0, []) is None


def test_roll_up_per_module_largest_first() -> None:
    runs = [
        [entry("runtime", "std", 0, 0.1, 0, 0), entry("a/x", "a", 1, 3.0, 100, 1), entry("a/y", "a", 4, 1.0)],
        [entry("runtime", "std", 0, 0.3), entry("a/x", "a", 1, 5.0, 300, 3), entry("a/y", "a", 4, 1.0)],
    ]
    modules, packages = roll_up(runs)
    assert [m.module for m in modules] == ["a", "std"]
    assert modules[0].clock_ms == pytest.approx(5.0) and modules[0].packages == 2  # p50 of 4.0 and 6.0
    assert modules[0].clock_p90_ms == pytest.approx(5.8)
    assert (packages[0].package, packages[0].clock_ms, packages[0].bytes) == ("a/x", 4.0, 200)


def test_percentile_is_numpys_linear_default() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([1, 2, 3, 4], 90) == pytest.approx(3.7)
    assert percentile([7], 90) == 7
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_advice_is_ranked_by_milliseconds_saved() -> None:
    modules = [ModuleInit("example.com/fn", 9.0, 9.5, 10, 1, 1)]
    packages = [PackageInit("example.com/fn/big", "example.com/fn", 9.0, 10, 1), PackageInit("os", "std", 5, 0, 0)]
    calls = [NetworkCall("connect", "10.0.0.1:443", "api.example", 2.0, 40.0)]
    advice = advise(None, 3 * MiB, modules=modules, packages=packages, network=calls, gomaxprocs="GOMAXPROCS=2 ...")
    assert [a.kind for a in advice] == ["network", "init", "gomaxprocs"]  # std packages are not advised on
    assert advice[0].ms_saved == 40.0 and "sync.OnceValue" in advice[0].fix
    assert advice[-1].ms_saved is None  # unknown savings last


def test_the_init_cpu_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INIT_CPU_VAR, raising=False)
    assert init_cpu_allowance() == 1.0
    assert init_cpu_allowance("memory") is None and init_cpu_allowance("2") == 2.0
    monkeypatch.setenv(INIT_CPU_VAR, "off")
    assert init_cpu_allowance() is None
    for bad in ("0", "7", "lots", "-1"):
        with pytest.raises(UsageError, match="is not an init CPU allowance"):
            init_cpu_allowance(bad)
    monkeypatch.setenv(INIT_CPU_VAR, "x")
    with pytest.raises(UsageError, match=f"{INIT_CPU_VAR}='x'"):
        init_cpu_allowance()
    assert os.environ[INIT_CPU_VAR] == "x"


def test_limits_never_give_init_less_than_the_memory_quota() -> None:
    assert Limits(128, init_vcpus=1.0).init_cpu_vcpus == 1.0
    assert Limits(3538, init_vcpus=1.0).init_cpu_vcpus == pytest.approx(2.0)
    assert Limits(128, init_vcpus=None).init_cpu_vcpus == Limits(128).vcpus
    assert Limits(128, init_vcpus=9.0).init_cpu_vcpus == 6  # Lambda's most
    assert init_cpu_text(Limits(128, init_vcpus=1.0), cpus=2).startswith("1.000 vCPU from exec")
    assert init_cpu_text(Limits(128, init_vcpus=4.0), cpus=2).startswith("2.000 vCPU")  # capped by the machine
    assert init_cpu_text(Limits(3538, init_vcpus=1.0), cpus=4) == ""  # the memory buys more: no allowance
    assert "=memory" in init_cpu_text(Limits(128), cpus=2)
