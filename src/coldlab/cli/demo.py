"""`coldlab demo`: build examples/hello-go and examples/hello-aws-lambda-go with the same toolchain and
invoke each cold and warm at 128 MB and 1769 MB, in one table."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
from rich import box
from rich.table import Table

from coldlab import gotool
from coldlab.cli.output import err_console, print_log_line
from coldlab.config import FunctionConfig
from coldlab.errors import ToolchainError
from coldlab.platform import Environment, InvocationResult

EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
# (example, what it is): the same hello, with its own Runtime API loop and with aws-lambda-go's lambda.Start
FUNCTIONS = (
    ("hello-go", "standard library only, its own Runtime API loop"),
    ("hello-aws-lambda-go", "github.com/aws/aws-lambda-go, lambda.Start"),
)
MEMORY_SIZES = (128, 1769)
WARM_INVOKES = 2

EXPLANATION = """\
How to read the REPORT lines (the table names each field by its first word):
  Init Duration    exec of `bootstrap` until its first GET /next: process start, Go runtime and package init.
                   Only on the cold invoke; later invokes reuse the frozen process.
  Duration         the handler's time: event handed over until the runtime asks for the next one.
  Billed Duration  Duration rounded up to 1 ms, plus Init Duration when cold (provided.al2023 bills init).
  Max Memory Used  the real peak resident memory of the environment's processes, not the configured size.
  Between invokes the process is frozen: no CPU, no timers, no background goroutines.
The two functions answer the same events; their rows show what aws-lambda-go adds to the binary, to init
and to each invoke (both built with -tags lambda.norpc, as Lambda's Go guide recommends for provided.al2023).
"""


@dataclass(frozen=True)
class _Row:
    function: str
    memory_mb: int
    result: InvocationResult


def _example_dir(name: str) -> Path:
    path = EXAMPLES_DIR / name
    if not (path / "main.go").is_file():
        raise ToolchainError(
            f"the bundled example is missing at {path}",
            "run `coldlab demo` from a checkout of the coldlab repository",
        )
    return path


async def _run(codes: dict[str, Path]) -> list[_Row]:
    rows = []
    for memory in MEMORY_SIZES:
        err_console.rule(f"[bold]{memory} MB[/]  (CPU: {memory / 1769:.2f} vCPU on Lambda)")
        for name, code in codes.items():
            config = FunctionConfig.create(code, memory_mb=memory, function_name=name)
            err_console.print(f"[bold]{name}[/]")
            async with Environment(config, log_sink=print_log_line) as env:
                if memory == MEMORY_SIZES[0] and name == FUNCTIONS[0][0]:
                    err_console.print(f"[dim]fidelity on this machine: {env.fidelity.as_dict()}[/]")
                for index in range(1 + WARM_INVOKES):
                    event = b'{"name": "coldlab demo"}' if index == 0 else b"{}"
                    rows.append(_Row(name, memory, await env.invoke(event)))
    return rows


def _table(rows: list[_Row], sizes: dict[str, int]) -> Table:
    caption = ", ".join(f"{name} bootstrap: {size / 2**20:.1f} MiB" for name, size in sizes.items())
    table = Table(
        title="hello-go and hello-aws-lambda-go on coldlab's Lambda execution environment",
        caption=caption,
        box=box.SIMPLE_HEAD,  # no vertical rules, no edge padding: the rows fit 80 columns
        pad_edge=False,
        show_edge=False,
    )
    table.add_column("function", no_wrap=True)
    # The REPORT fields by their first word, so that the table fits 80 columns without wrapping.
    for column in ("memory", "start", "Init", "Duration", "Billed", "Max Used"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        result = row.result
        table.add_row(
            row.function,
            f"{row.memory_mb} MB",
            "cold" if result.cold else "warm",
            "-" if result.init_duration_ms is None else f"{result.init_duration_ms:.2f} ms",
            f"{result.duration_ms:.2f} ms",
            f"{result.billed_duration_ms} ms",
            f"{result.max_memory_used_mb} MB",
        )
    return table


@click.command("demo")
def command() -> None:
    """Build examples/hello-go with the Go toolchain and invoke it cold and warm at 128 MB and 1769 MB.

    Beside it, examples/hello-aws-lambda-go (the same function written with aws-lambda-go) is built with
    the same toolchain and invoked the same way, in the same table. Its module comes from the Go module
    proxy on the first run (then from the module cache).
    """
    sources = {name: _example_dir(name) for name, _ in FUNCTIONS}
    go = gotool.find_go()
    with tempfile.TemporaryDirectory(prefix="coldlab-demo-") as build_dir:
        codes, sizes = {}, {}
        for name, what in FUNCTIONS:
            err_console.print(f"building {sources[name]} ({what}) with {go} (GOOS=linux, -ldflags='-s -w')")
            binary = gotool.build(gotool.GoBuild(sources[name]), Path(build_dir) / name / "bootstrap", go=go)
            codes[name], sizes[name] = binary.parent, binary.stat().st_size
            err_console.print(f"  bootstrap: {sizes[name] / 2**20:.1f} MiB")
        rows = asyncio.run(_run(codes))
    err_console.print()
    err_console.print(_table(rows, sizes))
    err_console.print()
    err_console.print(EXPLANATION)
