"""`coldlab demo`: build examples/hello-go and invoke it cold and warm at 128 MB and 1769 MB."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import click
from rich.table import Table

from coldlab import gotool
from coldlab.cli.output import err_console, print_log_line
from coldlab.config import FunctionConfig
from coldlab.errors import ToolchainError
from coldlab.platform import Environment, InvocationResult

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "hello-go"
MEMORY_SIZES = (128, 1769)
WARM_INVOKES = 2

EXPLANATION = """\
How to read the REPORT lines:
  Init Duration    exec of `bootstrap` until its first GET /next: process start, Go runtime and package init.
                   Only on the cold invoke; later invokes reuse the frozen process.
  Duration         the handler's time: event handed over until the runtime asks for the next one.
  Billed Duration  Duration rounded up to 1 ms, plus Init Duration when cold (provided.al2023 bills init).
  Max Memory Used  the real peak resident memory of the environment's processes, not the configured size.
  Between invokes the process is frozen: no CPU, no timers, no background goroutines.
"""


def _example_dir() -> Path:
    if not (EXAMPLE / "main.go").is_file():
        raise ToolchainError(
            f"the bundled example is missing at {EXAMPLE}",
            "run `coldlab demo` from a checkout of the coldlab repository",
        )
    return EXAMPLE


async def _run(code: Path) -> list[tuple[int, InvocationResult]]:
    rows = []
    for memory in MEMORY_SIZES:
        config = FunctionConfig.create(code, memory_mb=memory, function_name="hello-go")
        err_console.rule(f"[bold]{memory} MB[/]  (CPU: {memory / 1769:.2f} vCPU on Lambda)")
        async with Environment(config, log_sink=print_log_line) as env:
            if memory == MEMORY_SIZES[0]:
                err_console.print(f"[dim]fidelity on this machine: {env.fidelity.as_dict()}[/]")
            for index in range(1 + WARM_INVOKES):
                event = b'{"name": "coldlab demo"}' if index == 0 else b"{}"
                rows.append((memory, await env.invoke(event)))
    return rows


def _table(rows: list[tuple[int, InvocationResult]]) -> Table:
    table = Table(title="hello-go on coldlab's Lambda execution environment")
    for column in ("memory", "start", "Init Duration", "Duration", "Billed Duration", "Max Memory Used"):
        table.add_column(column, justify="right")
    for memory, result in rows:
        table.add_row(
            f"{memory} MB",
            "cold" if result.cold else "warm",
            "-" if result.init_duration_ms is None else f"{result.init_duration_ms:.2f} ms",
            f"{result.duration_ms:.2f} ms",
            f"{result.billed_duration_ms} ms",
            f"{result.max_memory_used_mb} MB",
        )
    return table


@click.command("demo")
def command() -> None:
    """Build examples/hello-go with the Go toolchain and invoke it cold and warm at 128 MB and 1769 MB."""
    source = _example_dir()
    with tempfile.TemporaryDirectory(prefix="coldlab-demo-") as build_dir:
        err_console.print(f"building {source} with {gotool.find_go()} (GOOS=linux, -ldflags='-s -w')")
        binary = gotool.build(gotool.GoBuild(source), Path(build_dir) / "bootstrap")
        size_mib = binary.stat().st_size / 2**20
        err_console.print(f"bootstrap: {size_mib:.1f} MiB")
        rows = asyncio.run(_run(binary.parent))
    err_console.print()
    err_console.print(_table(rows))
    err_console.print(EXPLANATION)
