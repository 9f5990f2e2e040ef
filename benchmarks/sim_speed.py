"""How fast the simulator runs (run by hand; prints figures, never fails on time).

1. One busy Lambda function, one core: simulated requests per second of the exact fast path (busy mode and
   general level-matching mode) against the event kernel on the same arrivals (the baseline, same run).
2. A generated Azure-format day of 1,000 apps: wall time with 1 and 2 worker processes.

    .venv/bin/python benchmarks/sim_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from coldlab.sim.dists import Const
from coldlab.sim.fastpath import LambdaFastPath
from coldlab.sim.lambda_des import LambdaKernel, LambdaModel
from coldlab.sim.policies import PolicySpec
from coldlab.sim.runner import RunConfig, run_jobs
from coldlab.sim.traces import CHUNK
from coldlab.sim.workload import AzureInput, azure_jobs


def _feed(sim: LambdaFastPath | LambdaKernel, a: np.ndarray, s: np.ndarray, p: np.ndarray) -> float:
    start = time.perf_counter()
    for lo in range(0, len(a), CHUNK):
        sim.feed(a[lo : lo + CHUNK], s[lo : lo + CHUNK], p[lo : lo + CHUNK])
    sim.finish(float(a[-1]))
    return time.perf_counter() - start


def busy_function(n: int, repeats: int) -> None:
    rng = np.random.default_rng(1)
    rate = 1000.0
    workloads = {
        "Poisson 1000/s, exp 100 ms": (np.cumsum(rng.exponential(1 / rate, n)), rng.exponential(0.1, n)),
        "clockwork 1000/s, exp 100 ms": (np.arange(n) / rate, rng.exponential(0.1, n)),
    }
    penalty = np.full(n, 0.049)
    policy = PolicySpec("fixed", "600")
    print(f"## one busy function, one core ({n:,} requests, keep-alive 600 s, {repeats} runs)")
    for label, (a, s) in workloads.items():
        kernel_n = min(n, 1_000_000)
        kernel = LambdaKernel(
            LambdaModel(), policy.build(), np.random.default_rng(0), name="f", app="a", bin_s=60
        )
        kernel_rate = kernel_n / _feed(kernel, a[:kernel_n], s[:kernel_n], penalty[:kernel_n])
        rates, mode = [], ""
        for _ in range(repeats):
            fast = LambdaFastPath(LambdaModel(), policy.build(), name="f", app="a", bin_s=60)
            rates.append(n / _feed(fast, a, s, penalty))
            mode = "busy mode" if fast.busy_mode else f"general mode ({fast.busy_chunks} busy chunks first)"
        print(
            f"{label}: fast path [{mode}] median {statistics.median(rates) / 1e6:.2f} M req/s "
            f"(min {min(rates) / 1e6:.2f}, max {max(rates) / 1e6:.2f}); "
            f"event kernel {kernel_rate / 1e6:.3f} M "
            f"req/s; ratio {statistics.median(rates) / kernel_rate:.1f}x"
        )


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its reaped children (the pool's workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def azure_day(apps: int) -> None:
    from coldlab.sim.azuregen import write_azure_day

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        inv, dur, mem = write_azure_day(Path(tmp), apps=apps, seed=1)
        gen = time.perf_counter() - t0
        spec = AzureInput(inv, dur, mem, "uniform")
        cfg = RunConfig(policy=PolicySpec("fixed", "600"), cold=Const(0.049), seed=1)
        print(
            f"## generated Azure-format day, {apps:,} apps ({inv.stat().st_size / 1e6:.1f} MB, "
            f"generated in {gen:.1f} s), {os.cpu_count()} CPUs visible"
        )
        walls = {}
        for workers in (2, 1):
            t0 = time.perf_counter()
            cpu0 = _cpu_seconds()
            totals = run_jobs(azure_jobs(spec, Const(0.1)), cfg, workers=workers)
            walls[workers] = time.perf_counter() - t0
            cpu = _cpu_seconds() - cpu0
            requests = sum(f.served for f in totals.functions)
            fast = sum(1 for f in totals.functions if f.fast_path)
            print(
                f"workers={workers}: {walls[workers]:.1f} s wall for {len(totals.functions):,} functions, "
                f"{requests:,} requests ({requests / walls[workers] / 1e6:.2f} M req/s; "
                f"{fast:,} functions on the fast path); "
                f"CPU {cpu:.1f} s = {cpu / walls[workers]:.2f} cores busy"
            )
        print(
            f"2 workers vs 1: {walls[1] / walls[2]:.2f}x faster (target: day <= 60 s with 2 workers); "
            f"load average now {os.getloadavg()[0]:.1f} (other jobs share these cores)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args()
    busy_function(2_000_000 if args.quick else 10_000_000, 2 if args.quick else 5)
    azure_day(100 if args.quick else 1000)


if __name__ == "__main__":
    main()
