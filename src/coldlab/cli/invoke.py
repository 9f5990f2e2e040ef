"""`coldlab invoke`: run a bootstrap in a Lambda-like execution environment, cold then warm."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coldlab.cli.output import err_console, print_json, print_log_line
from coldlab.config import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    EPHEMERAL_MIN_MB,
    FunctionConfig,
    parse_env_pairs,
)
from coldlab.errors import Terminated, UsageError
from coldlab.events import read_client_context, read_event

if TYPE_CHECKING:  # the platform (aiohttp) loads when a command runs, not for `coldlab invoke --help`
    from coldlab.platform import Environment, InvocationResult

SCHEMA = "coldlab.invoke/1"
LOG_FORMATS = ("text", "json")  # coldlab.logs.LOG_FORMATS, spelled out to keep --help light (tested)


class InvokeRun:
    """What a run has produced so far. It lives outside the coroutine, so when Ctrl-C or SIGTERM cancels
    the run, the invocations that finished (and were paid for) are still there to print."""

    def __init__(self) -> None:
        self.env: Environment | None = None
        self.warnings: list[str] = []
        self.results: list[InvocationResult] = []


async def run_invocations(
    env: Environment,
    event: bytes,
    repeat: int,
    interval_ms: int,
    results: list[InvocationResult] | None = None,
    *,
    client_context: str | None = None,
) -> list[InvocationResult]:
    """`repeat` invocations, each appended to `results` as soon as it finishes."""
    import asyncio

    results = [] if results is None else results
    for index in range(repeat):
        if index and interval_ms:
            await asyncio.sleep(interval_ms / 1000)  # the environment stays frozen meanwhile
        results.append(await env.invoke(event, client_context=client_context))
    return results


def run_warnings(env: Environment) -> list[str]:
    """What the user must know before trusting the numbers: code-size warnings, a degraded sandbox (said
    once per run, never silently) and GOMAXPROCS over-scheduling for Go bootstraps."""
    from coldlab.sandbox import gomaxprocs_advice, selection

    warnings = list(env.code.warnings)
    notice = selection().notice
    if notice:
        warnings.append(notice)
    advice = gomaxprocs_advice(env.code.bootstrap, env.limits, env.config.environment)
    if advice:
        warnings.append(advice)
    return warnings


@click.command("invoke")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--event", "event_source", metavar="FILE|-", help="Event JSON file or - for stdin [default: {}]"
)
@click.option(
    "--memory",
    "memory_mb",
    type=int,
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Memory size in MB (128-10240); CPU is memory/1769 vCPU",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=int,
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="Function timeout in seconds (1-900)",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Invocations: the first is cold, the rest warm on the same environment",
)
@click.option(
    "--interval",
    "interval_ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Milliseconds to wait between invocations (frozen meanwhile)",
)
@click.option("--env", "env_pairs", multiple=True, metavar="K=V", help="Function environment variable")
@click.option(
    "--ephemeral-storage",
    "ephemeral_mb",
    type=int,
    default=EPHEMERAL_MIN_MB,
    show_default=True,
    help="Size of the function's /tmp in MB (512-10240)",
)
@click.option(
    "--cpu-visibility",
    type=click.Choice(["parent", "leaf"]),
    default="parent",
    show_default=True,
    help="parent: the CPU quota is hidden from the function (Lambda); leaf: visible (Cloud Run)",
)
@click.option("--function-name", default="coldlab-function", show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="Platform lines as Lambda's Text or JSON log format (LoggingConfig.LogFormat)",
)
@click.option(
    "--client-context",
    "client_context_source",
    metavar="FILE|-",
    help="Client context for the function (lambdacontext.ClientContext): JSON, or its base64 as the AWS CLI "
    "takes it; at most 3,583 bytes of base64",
)
@click.option(
    "--layer",
    "layers",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR|ZIP",
    help="A layer (repeatable, in order, at most 5): its content appears at /opt, and executables in its "
    "extensions/ start as external extensions before the runtime",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.invoke/1)")
def command(
    *,
    path: Path,
    event_source: str | None,
    memory_mb: int,
    timeout_s: int,
    repeat: int,
    interval_ms: int,
    env_pairs: tuple[str, ...],
    ephemeral_mb: int,
    cpu_visibility: str,
    function_name: str,
    log_format: str,
    client_context_source: str | None,
    layers: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Invoke the bootstrap at PATH (a directory or .zip holding `bootstrap`) like AWS Lambda would.

    The function's response goes to stdout; START/END/REPORT and the function's own log lines to stderr.
    Exits 1 when any invocation fails, 2 on bad input (checked before anything runs: Lambda's 6 MB event
    limit and its reserved environment names included), 130 on Ctrl-C and 143 on SIGTERM, after printing
    the invocations that finished.
    """
    import asyncio

    config = FunctionConfig.create(
        path,
        memory_mb=memory_mb,
        timeout_s=timeout_s,
        ephemeral_storage_mb=ephemeral_mb,
        function_name=function_name,
        environment=parse_env_pairs(env_pairs),
    )
    if event_source == "-" and client_context_source == "-":
        raise UsageError(
            "--event - and --client-context - cannot both read stdin", "put one of them in a file"
        )
    event = read_event(event_source)
    client_context = read_client_context(client_context_source) if client_context_source else None
    run = InvokeRun()
    stopped: BaseException | None = None
    try:
        asyncio.run(
            _invoke(
                config,
                event,
                run,
                repeat=repeat,
                interval_ms=interval_ms,
                cpu_visibility=cpu_visibility,
                log_format=log_format,
                quiet=as_json,
                client_context=client_context,
                layers=layers,
            )
        )
    except (KeyboardInterrupt, Terminated) as exc:  # print what finished, then let the CLI exit 130/143
        stopped = exc
    if as_json:
        print_json(_document(config, cpu_visibility, run, stopped))
    else:
        for result in run.results:
            sys.stdout.buffer.write(result.payload + b"\n")
        sys.stdout.flush()
        if any(result.streamed for result in run.results):
            err_console.print("coldlab: note: the function streamed its response; it is returned buffered")
    if stopped is not None:
        raise stopped
    if any(not result.ok for result in run.results):
        raise SystemExit(1)


def _document(
    config: FunctionConfig, cpu_visibility: str, run: InvokeRun, stopped: BaseException | None
) -> dict[str, Any]:
    from coldlab.cli import stop_signal
    from coldlab.sandbox import selection

    return {
        "schema": SCHEMA,
        "function": {
            "name": config.function_name,
            "memory_mb": config.memory_mb,
            "timeout_s": config.timeout_s,
            "ephemeral_storage_mb": config.ephemeral_storage_mb,
            "cpu_visibility": cpu_visibility,
        },
        "fidelity": run.env.fidelity.as_dict() if run.env is not None else {},
        "sandbox": selection().as_dict(),
        "warnings": run.warnings + _dropped_warnings(run.results),
        "invocations": [result.as_dict() for result in run.results],
        # null, or the signal that stopped the run: "invocations" then holds those that finished before it
        "interrupted": None if stopped is None else stop_signal(),
    }


def _dropped_warnings(results: list[InvocationResult]) -> list[str]:
    """The document keeps a bounded tail of each invocation's lines (all of them went to the log): say so."""
    return [
        f"invocation {index + 1} logged {result.dropped_log_lines:,} lines more than its kept tail of "
        f"{len(result.log_lines):,}; dropped from log_lines (run without --json to see every line)"
        for index, result in enumerate(results)
        if result.dropped_log_lines
    ]


async def _invoke(
    config: FunctionConfig,
    event: bytes,
    run: InvokeRun,
    *,
    repeat: int,
    interval_ms: int,
    cpu_visibility: str,
    log_format: str,
    quiet: bool,
    client_context: str | None,
    layers: tuple[Path, ...] = (),
) -> None:
    from coldlab.platform import Environment

    env = run.env = Environment(
        config,
        log_sink=None if quiet else print_log_line,
        cpu_visibility=cpu_visibility,
        log_format=log_format,
        layers=layers,
    )
    async with env:
        run.warnings = run_warnings(env)
        if not quiet:
            for warning in run.warnings:
                err_console.print(f"[yellow]coldlab: warning:[/] {warning}", markup=True, highlight=False)
        await run_invocations(env, event, repeat, interval_ms, run.results, client_context=client_context)
