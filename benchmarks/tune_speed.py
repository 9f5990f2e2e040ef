"""How long `coldlab tune` takes: 6 memory sizes x 50 warm invocations (+1 cold each) of examples/hello-go.

Target (issue 6): <= 30 s wall on this machine. Prints the wall time of each run (median and worst), the
time per memory size, and a baseline measured in the same run: the same invocations driven straight through
`platform.Environment` at 3008 MB (no tuner, and no tight CPU quota), so the ratio shows what the tuner and
the small memory sizes' CPU quotas add. Never fails on time.

    .venv/bin/python benchmarks/tune_speed.py [--runs 3] [-n 50] [--memory 128,256,512,1024,1769,3008]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coldlab import gotool
from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from coldlab.tune.analysis import analyse
from coldlab.tune.backends import Sample
from coldlab.tune.backends.local import LocalBackend, cpu_limited
from coldlab.tune.costs import PricingCosts
from coldlab.tune.plan import Target, build_plan
from coldlab.tune.run import Observer, execute

REPO = Path(__file__).resolve().parent.parent


class SizeClock(Observer):
    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.took: dict[int, float] = {}

    def size_started(self, memory_mb: int, total: int) -> None:
        self.started[memory_mb] = time.perf_counter()

    def sample(self, sample: Sample) -> None:
        pass

    def size_finished(self, memory_mb: int) -> None:
        self.took[memory_mb] = time.perf_counter() - self.started[memory_mb]


async def baseline(code: Path, environments: int, per_env: int) -> float:
    """The same number of environments and invocations, straight through Environment at 3008 MB."""
    config = FunctionConfig.create(code, memory_mb=3008, timeout_s=30)
    started = time.perf_counter()
    for _ in range(environments):
        async with Environment(config) as env:
            for _ in range(per_env):
                await env.invoke(b"{}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--memory", default="128,256,512,1024,1769,3008")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = gotool.GoBuild(package_dir=REPO / "examples" / "hello-go")
        code = gotool.build(spec, Path(tmp) / "bootstrap")
        code_dir = code.parent
        backend = LocalBackend(code_dir)
        fidelity = backend.fidelity(128)
        print(f"sandbox cpu at 128 MB: {fidelity['cpu']}")
        if not cpu_limited(fidelity):
            print("note: CPU quota NOT in force: small sizes run faster than on Lambda (wall time is low)")
        plan = build_plan(Target("local", code=code_dir), memory=args.memory, invocations=args.n)
        print(f"plan: {len(plan.memory_sizes)} sizes x ({plan.invocations} warm + {plan.cold_per_size} cold) "
              f"= {plan.total_invocations} invocations per run")
        walls: list[float] = []
        largest: list[float] = []
        for run in range(args.runs):
            clock = SizeClock()
            started = time.perf_counter()
            execution = asyncio.run(execute(plan, LocalBackend(code_dir), clock))
            analysis = analyse(list(execution.samples), PricingCosts(), memory_sizes=plan.memory_sizes)
            wall = time.perf_counter() - started
            walls.append(wall)
            largest.append(clock.took[plan.memory_sizes[-1]])
            sizes = "  ".join(f"{m}:{clock.took[m]:.2f}s" for m in plan.memory_sizes)
            errors = sum(s.errors for s in analysis.stats)
            print(f"run {run + 1}: wall {wall:6.2f} s  (per size: {sizes})  errors={errors}")
        base = asyncio.run(baseline(code_dir, len(plan.memory_sizes), plan.invocations + 1))
        median = statistics.median(walls)
        print(f"tune wall: median {median:.2f} s, worst (p99 of {len(walls)} runs) {max(walls):.2f} s; "
              f"target <= 30 s: {'met' if max(walls) <= 30 else 'NOT met'}")
        print(f"baseline (same invocations via Environment at 3008 MB, no tuner): {base:.2f} s; "
              f"ratio tune/baseline = {median / base:.2f}")
        print(f"per invocation: {median / plan.total_invocations * 1000:.2f} ms (tune), "
              f"{base / plan.total_invocations * 1000:.2f} ms (baseline)")
        per_size = base / len(plan.memory_sizes)
        top = statistics.median(largest)
        print(f"tuner overhead at {plan.memory_sizes[-1]} MB (the baseline's quota): {top:.3f} s per size "
              f"vs baseline {per_size:.3f} s, ratio {top / per_size:.2f}")
        started = time.perf_counter()
        cli = subprocess.run(
            [sys.executable, "-m", "coldlab", "tune", str(code_dir), "--memory", args.memory,
             "-n", str(args.n), "--arch", "both", "--json",
             "--csv", f"{tmp}/t.csv", "--chart", f"{tmp}/t.png"],
            capture_output=True, check=False,
        )
        cli_wall = time.perf_counter() - started
        print(f"CLI end to end (python start-up, tune, analysis, CSV, PNG chart for both archs): "
              f"{cli_wall:.2f} s (exit {cli.returncode})")


if __name__ == "__main__":
    main()
