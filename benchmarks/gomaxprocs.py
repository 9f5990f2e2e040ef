"""Does GOMAXPROCS above the vCPU a memory size buys hurt? Prints figures; never fails on time.

The seed claims that Go's default GOMAXPROCS (2 on Lambda, which shows 2 CPUs below 3,008 MB and hides its CPU
quota) over-schedules below 1,769 MB. This runs examples/gomaxprocs-go's parallel, allocation-heavy work
(4 goroutines building and dropping linked lists and maps: GC-heavy) as warm invokes through the execution
environment at 128, 512, 1024 and 1769 MB, with GOMAXPROCS unset (Go's default: this machine's CPUs, since
the quota sits on a parent cgroup as on Lambda) and with GOMAXPROCS=1 (two environments invoked alternately),
and prints the median REPORT durations, the median of the paired ratios (default / GOMAXPROCS=1) and the
function's CPU time. A last row runs the same work with no CPU quota at all (the unprivileged host), in the
same run: the workload's own cost of two Ps, separate from what the quota adds.

Usage: .venv/bin/python benchmarks/gomaxprocs.py [--units 240] [--runs 9]
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
from coldlab.sandbox import Host, Limits, SignalHost, gomaxprocs_advice, select_host

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SIZES = (128, 512, 1024, 1769)


async def measure_pair(
    code: Path, memory_mb: int, units: int, runs: int, host: Host | None = None
) -> tuple[dict[str, float], dict[str, float], float]:
    """Two environments, GOMAXPROCS unset and =1, invoked alternately (the idle one is frozen), so drifting
    machine load hits both alike. Returns each one's figures and the median of the paired ratios."""
    event = json.dumps({"work": "alloc", "goroutines": 4, "units": units}).encode()
    configs = [
        FunctionConfig.create(code, memory_mb=memory_mb, timeout_s=300, environment=env)
        for env in ({}, {"GOMAXPROCS": "1"})
    ]
    figures: list[dict[str, list[float]]] = [{"duration": [], "cpu": [], "procs": []} for _ in configs]
    async with Environment(configs[0], host=host) as default, Environment(configs[1], host=host) as one:
        pair = (default, one)
        for environment in pair:
            await environment.invoke(json.dumps({"work": "alloc", "units": 4}).encode())  # cold, not measured
        for _ in range(runs):
            for environment, figure in zip(pair, figures, strict=True):
                result = await environment.invoke(event)
                reply = json.loads(result.payload)
                figure["duration"].append(result.duration_ms)
                figure["cpu"].append(reply["cpu_ms"])
                figure["procs"].append(reply["gomaxprocs"])
    ratios = [d / o for d, o in zip(figures[0]["duration"], figures[1]["duration"], strict=True)]
    summary = [
        {
            "median": statistics.median(f["duration"]),
            "cpu": statistics.median(f["cpu"]),
            "gomaxprocs": f["procs"][0],
        }
        for f in figures
    ]
    return summary[0], summary[1], statistics.median(ratios)


async def main(units: int, runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coldlab-gomaxprocs-"))
    binary = gotool.build(gotool.GoBuild(package_dir=EXAMPLES / "gomaxprocs-go"), work / "fn" / "bootstrap")
    host = select_host()
    print(f"host {host.name}; cpu at 128 MB: {host.fidelity(Limits(128)).cpu}")
    load = os.getloadavg()[0]
    what = f"alloc work, 4 goroutines, {units} units"
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f}; {what}\n")
    print(
        f"{'memory':>10} {'vCPU':>5} {'default':>22} {'GOMAXPROCS=1':>15} {'ratio':>6}  "
        f"{'CPU default':>11} {'CPU =1':>8}"
    )
    ratios: dict[str, float] = {}
    rows: list[tuple[str, str, Host | None, int]] = [
        (f"{m} MB", f"{m / 1769:.2f}", None, m) for m in SIZES
    ]
    rows.append(("no quota", "all", SignalHost("benchmark baseline: no CPU quota"), 1769))
    for label, vcpu, host_override, memory_mb in rows:
        default, one, ratio = await measure_pair(binary.parent, memory_mb, units, runs, host_override)
        ratios[label] = ratio
        took = f"(P={default['gomaxprocs']:.0f}) {default['median']:8.1f} ms"
        print(
            f"{label:>10} {vcpu:>5} {took:>22} {one['median']:>12.1f} ms {ratio:>6.2f}  "
            f"{default['cpu']:>8.1f} ms {one['cpu']:>5.1f} ms"
        )
    baseline = ratios["no quota"]
    print()
    for memory_mb in SIZES:
        ratio = ratios[f"{memory_mb} MB"]
        excess = ratio / baseline
        verdict = "over-schedules" if excess > 1.1 else "costs nothing extra" if excess >= 0.9 else "helps"
        print(
            f"{memory_mb:>5} MB: default/1 = {ratio:.2f} vs {baseline:.2f} without a quota (x{excess:.2f}): "
            f"under the quota the default GOMAXPROCS {verdict}"
        )
    advice = gomaxprocs_advice(binary, Limits(128), {})
    print(f"\ncoldlab invoke's warning at 128 MB: {advice}")
    print("ratio > 1: the default GOMAXPROCS is slower than GOMAXPROCS=1 (over-scheduling); < 1: faster.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=240, help="work units (about 0.3 ms each at 1 vCPU)")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    asyncio.run(main(args.units, args.runs))
