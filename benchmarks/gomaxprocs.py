"""Does GOMAXPROCS above the vCPU a memory size buys hurt? Prints figures; never fails on time.

The seed claims that Go's default GOMAXPROCS (2 on Lambda, which shows 2 CPUs below 3,008 MB and hides its CPU
quota) over-schedules below 1,769 MB. This runs examples/gomaxprocs-go's parallel, allocation-heavy work
(4 goroutines building and dropping linked lists and maps: GC-heavy) as warm invokes through the execution
environment at 128, 512, 1024 and 1769 MB, with GOMAXPROCS unset (Go's default: this machine's CPUs, since the
quota sits on a parent cgroup as on Lambda) and with GOMAXPROCS=1, and prints the median REPORT durations,
their ratio (default / GOMAXPROCS=1) and the function's CPU time. A last row runs the same work with no
CPU quota at all (the unprivileged host), in the same run: the workload's own cost of two Ps, separate from
what the quota adds.

Usage: .venv/bin/python benchmarks/gomaxprocs.py [--units 240] [--runs 5]
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


async def measure(
    code: Path, memory_mb: int, env: dict[str, str], units: int, runs: int, host: Host | None = None
) -> dict[str, float]:
    config = FunctionConfig.create(code, memory_mb=memory_mb, timeout_s=300, environment=env)
    durations, cpu, procs = [], [], 0
    event = json.dumps({"work": "alloc", "goroutines": 4, "units": units}).encode()
    async with Environment(config, host=host) as environment:
        await environment.invoke(json.dumps({"work": "alloc", "units": 4}).encode())  # cold, not measured
        for _ in range(runs):
            result = await environment.invoke(event)
            reply = json.loads(result.payload)
            durations.append(result.duration_ms)
            cpu.append(reply["cpu_ms"])
            procs = reply["gomaxprocs"]
    return {
        "median": statistics.median(durations),
        "min": min(durations),
        "cpu": statistics.median(cpu),
        "gomaxprocs": procs,
    }


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
        default = await measure(binary.parent, memory_mb, {}, units, runs, host_override)
        one = await measure(binary.parent, memory_mb, {"GOMAXPROCS": "1"}, units, runs, host_override)
        ratio = ratios[label] = default["median"] / one["median"]
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
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.units, args.runs))
