"""The exact fast path equals the event kernel; invariants hold for any configuration (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from coldlab.sim.dists import Const, Exponential
from coldlab.sim.fastpath import LambdaFastPath
from coldlab.sim.lambda_des import LambdaKernel, LambdaModel
from coldlab.sim.policies import PolicySpec
from coldlab.sim.runner import FunctionJob, RunConfig, simulate_function
from coldlab.sim.traces import Synthetic


def _workload(seed: int, n: int, rate: float, mean_s: float, rounded: bool):
    rng = np.random.default_rng(seed)
    a = np.cumsum(rng.exponential(1 / rate, n))
    if rounded:  # many simultaneous events: exercises the tie rule (departures first)
        a = np.round(a, 1)
    s = np.maximum(rng.exponential(mean_s, n), 1e-6)
    p = rng.exponential(0.3, n)
    return a, s, p


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 1500),
    rate=st.sampled_from([0.01, 0.3, 4.0, 40.0]),
    mean_s=st.sampled_from([0.02, 1.0, 5.0]),
    keep=st.sampled_from(["0", "1", "30", "600"]),
    chunks=st.integers(1, 4),
    rounded=st.booleans(),
)
def test_fast_path_equals_kernel(seed, n, rate, mean_s, keep, chunks, rounded) -> None:
    a, s, p = _workload(seed, n, rate, mean_s, rounded)
    kernel = LambdaKernel(
        LambdaModel(),
        PolicySpec("fixed", keep).build(),
        np.random.default_rng(0),
        name="f",
        app="a",
        bin_s=60,
    )
    fast = LambdaFastPath(LambdaModel(), PolicySpec("fixed", keep).build(), name="f", app="a", bin_s=60)
    for part in np.array_split(np.arange(n), chunks):
        if len(part):
            kernel.feed(a[part], s[part], p[part])
            fast.feed(a[part], s[part], p[part])
    end = float(a[-1]) + 5
    rk, lk, tk = kernel.finish(end)
    rf, lf, tf = fast.finish(end)
    assert rf.cold_starts == rk.cold_starts
    assert rf.envs_created == rk.envs_created
    assert rf.peak_envs == rk.peak_envs
    assert rf.billed_ms == rk.billed_ms and rf.billed_init_ms == rk.billed_init_ms
    assert abs(rf.env_s - rk.env_s) <= 1e-6 * max(1.0, rk.env_s)
    assert (lf == lk).all()
    assert (tf.cold == tk.cold).all()
    assert np.allclose(tf.env_seconds, tk.env_seconds, atol=1e-4)


def test_busy_function_stays_in_busy_mode_and_matches_kernel() -> None:
    n = 60_000
    a = np.arange(n) * 0.01  # 100 req/s, clockwork
    s = np.full(n, 0.05)
    p = np.full(n, 0.05)
    fast = LambdaFastPath(LambdaModel(), PolicySpec("fixed", "600").build(), name="f", app="a", bin_s=60)
    kernel = LambdaKernel(
        LambdaModel(),
        PolicySpec("fixed", "600").build(),
        np.random.default_rng(0),
        name="f",
        app="a",
        bin_s=60,
    )
    for part in np.array_split(np.arange(n), 3):
        fast.feed(a[part], s[part], p[part])
        kernel.feed(a[part], s[part], p[part])
    rf, _, _ = fast.finish(n * 0.01)
    rk, _, _ = kernel.finish(n * 0.01)
    assert fast.busy_mode and fast.busy_chunks == 3
    assert (rf.cold_starts, rf.peak_envs) == (rk.cold_starts, rk.peak_envs)
    assert abs(rf.env_s - rk.env_s) < 1e-6 * rk.env_s


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 1000),
    rate=st.sampled_from([0.5, 5.0, 50.0, 400.0]),
    provisioned=st.integers(0, 5),
    reserved=st.one_of(st.none(), st.integers(1, 30)),
    burst=st.integers(1, 50),
    keep=st.sampled_from(["none", "fixed", "hybrid"]),
    recycle=st.one_of(st.none(), st.sampled_from([30.0, 120.0])),
    routing=st.sampled_from(["mru", "newest"]),
)
def test_invariants(seed, rate, provisioned, reserved, burst, keep, recycle, routing) -> None:
    horizon = 120.0
    job = FunctionJob(0, "f", "f", None, Synthetic("bursty", rate, horizon, Exponential(0.2)), horizon)
    model = LambdaModel(
        provisioned=provisioned, reserved=reserved, burst=burst, recycle_s=recycle, routing=routing
    )
    cfg = RunConfig(lam=model, policy=PolicySpec(keep, "20"), cold=Const(0.1), seed=seed)
    result, latency, _ = simulate_function(job, cfg)
    assert result.served + result.throttled == result.arrivals
    assert result.cold_starts <= result.envs_created
    assert int(latency.sum()) == result.served
    if reserved is not None:
        assert result.peak_inflight <= reserved
    assert result.env_s + 1e-9 >= result.busy_s * (1 - 1e-12)
