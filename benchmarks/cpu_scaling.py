"""Does CPU scale with memory as on Lambda (memory/1769 vCPU)? Prints figures; never fails on time.
Target: each ratio within +-10% of the ideal 1769/memory.

Runs the same single-goroutine CPU-bound work (examples/gomaxprocs-go, {"work":"spin"}) as warm invokes
through the execution environment at 128, 256, 512, 1024 and 1769 MB, and prints the REPORT durations, their
ratio to the 1769 MB duration measured in the same run, the ideal ratio and the error. Also printed: the
function's own CPU time (it should not depend on memory) and how often the quota throttled it.

On a shared machine other processes can take part of the one core the 1769 MB run needs; the script then also
prints the ratio against that run's CPU time (what it would take uncontended at exactly one vCPU).

Usage: .venv/bin/python benchmarks/cpu_scaling.py [--units 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from pathlib import Path

from coldlab import gotool
from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from coldlab.sandbox import Limits, select_host

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SIZES = (128, 256, 512, 1024, 1769)


async def measure(code: Path, memory_mb: int, units: int, runs: int) -> tuple[float, float, dict[str, int]]:
    """Median REPORT duration and function CPU time of `runs` warm invokes, and cpu.stat after them."""
    config = FunctionConfig.create(code, memory_mb=memory_mb, timeout_s=120)
    durations, cpu = [], []
    async with Environment(config) as env:
        await env.invoke(json.dumps({"work": "spin", "units": 1}).encode())  # cold start, not measured
        for _ in range(runs):
            result = await env.invoke(json.dumps({"work": "spin", "units": units}).encode())
            durations.append(result.duration_ms)
            cpu.append(json.loads(result.payload)["cpu_ms"])
        sandbox = env._sandbox  # a benchmark may look inside: throttling counters
        throttling = getattr(sandbox, "cpu_throttling", dict)()
    return statistics.median(durations), statistics.median(cpu), throttling


async def main(units: int, runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coldlab-cpu-"))
    binary = gotool.build(gotool.GoBuild(package_dir=EXAMPLES / "gomaxprocs-go"), work / "fn" / "bootstrap")
    host = select_host()
    fidelity = host.fidelity(Limits(128))
    print(f"host {host.name}; cpu: {fidelity.cpu}")
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f}; work: spin x {units} units\n")
    rows = {}
    for memory_mb in reversed(SIZES):
        rows[memory_mb] = await measure(binary.parent, memory_mb, units, runs)
    base, base_cpu, _ = rows[1769]
    print(f"{'memory':>7} {'duration':>11} {'fn CPU':>9} {'ratio':>7} {'ideal':>7} {'error':>7}"
          f" {'vs CPU':>7} {'error':>7} {'throttled':>10}")  # fmt: skip
    for memory_mb in SIZES:
        duration, cpu_ms, throttling = rows[memory_mb]
        ideal = 1769 / memory_mb
        ratio, ratio_cpu = duration / base, duration / base_cpu
        periods = throttling.get("nr_periods", 0)
        throttled = f"{throttling.get('nr_throttled', 0)}/{periods}" if periods else "-"
        print(
            f"{memory_mb:>5} MB {duration:>8.1f} ms {cpu_ms:>6.1f} ms {ratio:>7.2f} {ideal:>7.2f} "
            f"{(ratio / ideal - 1) * 100:>+6.1f}% {ratio_cpu:>7.2f} {(ratio_cpu / ideal - 1) * 100:>+6.1f}% "
            f"{throttled:>10}"
        )
    if base > base_cpu * 1.05:
        print(f"\nthe 1769 MB run took {base:.1f} ms for {base_cpu:.1f} ms of CPU: the core was shared; "
              "trust the 'vs CPU' columns")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=100, help="work units (about 1 ms each at 1 vCPU)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.units, args.runs))
