"""Analytical and published checks of the simulator (simulation.md §5.2, §5.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coldlab.sim.cloudrun import CloudRunKernel, CloudRunModel
from coldlab.sim.dists import Const, Exponential
from coldlab.sim.fastpath import LambdaFastPath
from coldlab.sim.lambda_des import LambdaKernel, LambdaModel
from coldlab.sim.policies import PolicySpec
from coldlab.sim.runner import FunctionJob, RunConfig, run_jobs, simulate_function
from coldlab.sim.traces import Synthetic


def _run(model: LambdaModel, a: np.ndarray, s: np.ndarray, p: np.ndarray, keep: str, *, fast: bool):
    policy = PolicySpec("fixed", keep).build()
    sim = (
        LambdaFastPath(model, policy, name="f", app="a", bin_s=60)
        if fast
        else LambdaKernel(model, policy, np.random.default_rng(0), name="f", app="a", bin_s=60)
    )
    sim.feed(a, s, p)
    result, _, _ = sim.finish(float(a[-1]) + 1)
    return result


def test_cold_probability_tends_to_exp_minus_lambda_t() -> None:
    lam, t_idle = 1 / 600, 600.0
    horizon = 600.0 * 30000
    job = FunctionJob(0, "f", "f", None, Synthetic("steady", lam, horizon, Const(0.01)), horizon)
    result, _, _ = simulate_function(
        job, RunConfig(policy=PolicySpec("fixed", "600"), cold=Const(0.0), seed=3)
    )
    assert result.fast_path
    assert result.cold_starts / result.served == pytest.approx(math.exp(-lam * t_idle), abs=0.012)


@pytest.mark.parametrize("fast", [True, False])
def test_periodic_arrivals_on_both_sides_of_the_idle_timeout(fast: bool) -> None:
    # Boundary convention: an environment idle for exactly T is still warm; strictly longer is reclaimed.
    n = 50
    zero, one = np.zeros(n), np.ones(n)
    at_t = _run(LambdaModel(), np.arange(n) * 601.0, one, zero, "600", fast=fast)
    assert at_t.cold_starts == 1  # idle gap 601 - 1 == T exactly: warm
    above = _run(LambdaModel(), np.arange(n) * 602.0, one, zero, "600", fast=fast)
    assert above.cold_starts == n  # idle gap 601 > T: every request cold
    below = _run(LambdaModel(), np.arange(n) * 300.0, np.full(n, 1.0), zero, "600", fast=fast)
    assert below.cold_starts == 1


def test_provisioned_concurrency_covering_peak_gives_no_cold_starts() -> None:
    a = np.arange(200, dtype=float)  # one request a second, 2.5 s each: at most 3 in flight
    s = np.full(200, 2.5)
    p = np.full(200, 0.3)
    full = _run(LambdaModel(provisioned=3), a, s, p, "600", fast=False)
    assert full.cold_starts == 0 and full.spillover == 0 and full.served == 200
    part = _run(LambdaModel(provisioned=2), a, s, p, "600", fast=False)
    # by hand: requests 0,1 on PC; request 2 finds both busy (spills); then PC frees at t+2.5 and the
    # pattern repeats with period 3: every third request spills
    assert part.spillover == len(range(2, 200, 3))
    assert part.cold_starts == 1  # the spillover environment is reused afterwards


def test_burst_scaling_limit_throttles_the_excess() -> None:
    model = LambdaModel(account_limit=100_000)
    n = 20_000
    a = np.concatenate([np.zeros(n), np.full(n, 10.0)])
    s = np.ones(2 * n)
    result = _run(model, a, s, np.zeros(2 * n), "600", fast=False)
    # t=0: the bucket holds 1,000 -> 1,000 new environments, 19,000 throttled.
    # t=10: those 1,000 are idle (warm) and the bucket refilled at 100/s to 1,000 -> 2,000 served.
    assert result.envs_created == 2000
    assert result.served == 3000
    assert result.throttled == 2 * n - 3000
    assert result.served + result.throttled == result.arrivals


def test_burst_limit_makes_the_fast_path_fall_back_to_the_kernel() -> None:
    horizon = 30.0
    job = FunctionJob(0, "f", "f", None, Synthetic("steady", 2000.0, horizon, Const(5.0)), horizon)
    result, _, _ = simulate_function(job, RunConfig(lam=LambdaModel(account_limit=100_000), cold=Const(0.1)))
    assert not result.fast_path
    assert result.throttled > 0
    assert result.envs_created <= 1000 + 100 * horizon


def test_reserved_concurrency_throttles() -> None:
    a = np.zeros(10)
    result = _run(LambdaModel(reserved=4), a, np.ones(10), np.zeros(10), "600", fast=False)
    assert result.served == 4 and result.throttled == 6


def test_cloud_run_converges_to_ceil_load_over_60pct_of_concurrency() -> None:
    rng = np.random.default_rng(0)
    horizon, lam, service, conc = 1800.0, 27.0, 1.0, 10
    a = np.sort(rng.uniform(0, horizon, rng.poisson(lam * horizon)))
    sim = CloudRunKernel(CloudRunModel(concurrency=conc), name="s", app="s", bin_s=60, penalty_mean=0.5)
    sim.feed(a, np.full(len(a), service), np.full(len(a), 0.5))
    assert sim.active_instances() == math.ceil(lam * service / (0.6 * conc))  # = 5


def test_cloud_run_min_and_max_instances() -> None:
    a = np.arange(0, 600, 0.5)
    sim = CloudRunKernel(
        CloudRunModel(concurrency=1, min_instances=3, max_instances=3),
        name="s",
        app="s",
        bin_s=60,
        penalty_mean=0.5,
    )
    sim.feed(a, np.full(len(a), 0.1), np.full(len(a), 0.5))
    assert sim.active_instances() == 3  # never below min instances
    result, _, _ = sim.finish(600)
    assert result.cold_starts == 0  # min instances are warm from the start
    assert result.extra["idle_min_instance_s"] > 0
    jam = CloudRunKernel(
        CloudRunModel(concurrency=1, max_instances=1), name="s", app="s", bin_s=60, penalty_mean=0.0
    )
    jam.feed(np.zeros(5), np.full(5, 4.0), np.zeros(5))
    jammed, _, _ = jam.finish(60)
    # one instance, 4 s each, a 10 s queue: requests 1 and 2 wait 4 and 8 s; 3 and 4 would wait 12+ s -> 429
    assert jammed.served == 3 and jammed.throttled == 2


def test_simfaas_readme_case() -> None:
    # SimFaaS README: lambda 0.9/s, warm 1.991 s, cold 2.244 s, T = 600 s, newest-idle routing, 10^6 s:
    # p_cold 0.0014 and 7.66 average instances. Cold = warm service + 0.253 s (the difference of means).
    horizon = 1e6
    job = FunctionJob(0, "f", "f", None, Synthetic("steady", 0.9, horizon, Exponential(1.991)), horizon)
    cfg = RunConfig(lam=LambdaModel(routing="newest"), policy=PolicySpec("fixed", "600"), cold=Const(0.253))
    result, _, _ = simulate_function(job, cfg)
    assert result.cold_starts / result.served == pytest.approx(0.0014, rel=0.10)
    assert result.env_s / horizon == pytest.approx(7.66, rel=0.10)


def test_same_seed_same_results_and_workers_do_not_matter() -> None:
    jobs = [
        FunctionJob(i, f"f{i}", "a", None, Synthetic("bursty", 0.5 + i, 1800.0, Exponential(0.2)), 1800.0)
        for i in range(3)
    ]
    cfg = RunConfig(cold=Exponential(0.05), seed=7)
    one = run_jobs(jobs, cfg, workers=1)
    two = run_jobs(jobs, cfg, workers=2)
    again = run_jobs(jobs, cfg, workers=1)
    for x, y, z in zip(one.functions, two.functions, again.functions, strict=True):
        assert x == y == z
    assert (one.latency == two.latency).all()
    other = run_jobs(jobs, RunConfig(cold=Exponential(0.05), seed=8), workers=1)
    assert [f.arrivals for f in other.functions] != [f.arrivals for f in one.functions]


def test_hybrid_policy_beats_fixed_10_min_on_a_periodic_app() -> None:
    # The SITW shape: for an app invoked every 30 min, a fixed 10-min keep-alive is cold every time and idles
    # 10 min per cycle; the hybrid policy learns the period, pre-warms before it and idles less.
    horizon = 2 * 86400.0
    job = FunctionJob(0, "f", "f", None, Synthetic("cron", 1 / 1800, horizon, Const(0.2)), horizon)
    results = {}
    for kind in ("fixed", "hybrid"):
        result, _, _ = simulate_function(job, RunConfig(policy=PolicySpec(kind, "600"), cold=Const(0.05)))
        results[kind] = result
    fixed, hybrid = results["fixed"], results["hybrid"]
    assert fixed.cold_starts == fixed.served
    assert hybrid.cold_starts < 0.1 * hybrid.served
    assert hybrid.prewarms > 0
    assert hybrid.idle_s < fixed.idle_s
