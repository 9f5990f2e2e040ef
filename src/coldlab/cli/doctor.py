"""`coldlab doctor`: which mechanism enforces freeze, CPU, memory, isolation and spawning here, and why."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from coldlab import scratch
from coldlab.cli.output import err_console, print_json
from coldlab.config import DEFAULT_MEMORY_MB
from coldlab.sandbox import Limits, selection, spawner
from coldlab.sandbox.initcpu import init_cpu_allowance
from coldlab.sandbox.select import CGROUP_ROOT
from coldlab.sandbox.spawning import check_limits, host_cpus

SCHEMA = "coldlab.doctor/1"


def cgroup_layout(root: Path = CGROUP_ROOT) -> str:
    """pure v2, hybrid (v1 controllers + a v2 `unified` mount), v1 only, or none."""
    if (root / "cgroup.controllers").exists():
        return "cgroup v2"
    v1 = (root / "cpu" / "cgroup.procs").exists() or (root / "memory" / "cgroup.procs").exists()
    unified = (root / "unified" / "cgroup.controllers").exists()
    if v1 and unified:
        return "hybrid (cgroup v1 controllers + cgroup v2 at unified/)"
    return "cgroup v1" if v1 else "none mounted"


def report(limits: Limits) -> dict[str, Any]:
    chosen = selection()
    fidelity = chosen.host.fidelity(limits)
    user = getattr(chosen.host, "user", None)
    return {
        "schema": SCHEMA,
        "host": chosen.host.name,
        "reason": chosen.reason,
        "tried": list(chosen.tried),
        "degraded": chosen.degraded,
        "notice": chosen.notice,
        "limits": {"memory_mb": limits.memory_mb, "cpu_visibility": limits.cpu_visibility},
        "mechanisms": {
            "freeze": fidelity.freeze,
            "cpu": fidelity.cpu,
            "init_cpu": fidelity.init_cpu or fidelity.cpu,
            "memory": fidelity.memory,
            "memory_peak": fidelity.memory_peak,
            "isolation": fidelity.isolation,
            "spawn": spawner.mechanism(),
        },
        "notes": list(fidelity.notes),
        "machine": {
            "euid": os.geteuid(),
            "cgroups": cgroup_layout(),
            "cpus": host_cpus(),
            "function_user": None if user is None else {"name": user.name, "uid": user.uid, "how": user.how},
            "stale_runs_removed": list(getattr(chosen.host, "stale_removed", [])),
            # packages and layers unzipped by a coldlab that was killed: removed now, as its cgroups are
            "stale_code_dirs_removed": [str(path) for path in scratch.remove_stale()],
        },
    }


@click.command("doctor")
@click.option(
    "--memory",
    "memory_mb",
    type=int,
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Memory size to describe the CPU quota for",
)
@click.option("--cpu-visibility", type=click.Choice(["parent", "leaf"]), default="parent", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.doctor/1)")
def command(*, memory_mb: int, cpu_visibility: str, as_json: bool) -> None:
    """Say which mechanism enforces each part of the Lambda contract here (freeze, CPU, memory, isolation)."""
    limits = Limits(memory_mb=memory_mb, cpu_visibility=cpu_visibility, init_vcpus=init_cpu_allowance())
    check_limits(limits)
    doc = report(limits)
    if as_json:
        print_json(doc)
        return
    from rich.table import Table  # rich loads when a table is printed, not for --help

    table = Table(title=f"coldlab sandbox: {doc['host']} host", show_lines=False)
    table.add_column("part")
    table.add_column("mechanism in force")
    for part, mechanism in doc["mechanisms"].items():
        degraded = ("not-limited", "sigstop", "fork of coldlab")
        style = "yellow" if any(word in mechanism for word in degraded) else "green"
        table.add_row(part.replace("_", " "), f"[{style}]{mechanism}[/]")
    err_console.print(table)
    err_console.print(f"why: {doc['reason']}")
    for tried in doc["tried"]:
        err_console.print(f"[yellow]not used:[/] {tried}")
    for note in doc["notes"]:
        err_console.print(f"note: {note}")
    machine = doc["machine"]
    err_console.print(f"machine: euid {machine['euid']}, {machine['cgroups']}, {machine['cpus']} CPUs")
    if machine["function_user"]:
        fn = machine["function_user"]
        err_console.print(f"function user: {fn['name']} (uid {fn['uid']}, {fn['how']})")
    if machine["stale_runs_removed"]:
        err_console.print(f"removed cgroups left by killed runs: {', '.join(machine['stale_runs_removed'])}")
    if machine["stale_code_dirs_removed"]:
        removed = ", ".join(machine["stale_code_dirs_removed"])
        err_console.print(f"removed unzipped packages left by killed runs: {removed}")
