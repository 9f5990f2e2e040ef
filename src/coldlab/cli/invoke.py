"""`coldlab invoke`: run a bootstrap in a Lambda-like execution environment, cold then warm."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from coldlab.cli.output import err_console, print_json, print_log_line
from coldlab.config import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    EPHEMERAL_MIN_MB,
    FunctionConfig,
    parse_env_pairs,
)
from coldlab.events import read_event
from coldlab.logs import LOG_FORMATS
from coldlab.platform import Environment, InvocationResult
from coldlab.sandbox import gomaxprocs_advice, selection

SCHEMA = "coldlab.invoke/1"


async def run_invocations(
    env: Environment, event: bytes, repeat: int, interval_ms: int
) -> list[InvocationResult]:
    results = []
    for index in range(repeat):
        if index and interval_ms:
            await asyncio.sleep(interval_ms / 1000)  # the environment stays frozen meanwhile
        results.append(await env.invoke(event))
    return results


def run_warnings(env: Environment) -> list[str]:
    """What the user must know before trusting the numbers: code-size warnings, a degraded sandbox (said
    once per run, never silently) and GOMAXPROCS over-scheduling for Go bootstraps."""
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
    as_json: bool,
) -> None:
    """Invoke the bootstrap at PATH (a directory or .zip holding `bootstrap`) like AWS Lambda would.

    The function's response goes to stdout; START/END/REPORT and the function's own log lines to stderr.
    Exits 1 when any invocation fails, 2 on bad input.
    """
    config = FunctionConfig.create(
        path,
        memory_mb=memory_mb,
        timeout_s=timeout_s,
        ephemeral_storage_mb=ephemeral_mb,
        function_name=function_name,
        environment=parse_env_pairs(env_pairs),
    )
    event = read_event(event_source)
    results, env, warnings = asyncio.run(
        _invoke(
            config,
            event,
            repeat=repeat,
            interval_ms=interval_ms,
            cpu_visibility=cpu_visibility,
            log_format=log_format,
            quiet=as_json,
        )
    )
    if as_json:
        print_json(
            {
                "schema": SCHEMA,
                "function": {
                    "name": config.function_name,
                    "memory_mb": config.memory_mb,
                    "timeout_s": config.timeout_s,
                    "ephemeral_storage_mb": config.ephemeral_storage_mb,
                    "cpu_visibility": cpu_visibility,
                },
                "fidelity": env.fidelity.as_dict(),
                "sandbox": selection().as_dict(),
                "warnings": warnings,
                "invocations": [result.as_dict() for result in results],
            }
        )
    else:
        for result in results:
            sys.stdout.buffer.write(result.payload + b"\n")
        sys.stdout.flush()
        if any(result.streamed for result in results):
            err_console.print("coldlab: note: the function streamed its response; it is returned buffered")
    if any(not result.ok for result in results):
        raise SystemExit(1)


async def _invoke(
    config: FunctionConfig,
    event: bytes,
    *,
    repeat: int,
    interval_ms: int,
    cpu_visibility: str,
    log_format: str,
    quiet: bool,
) -> tuple[list[InvocationResult], Environment, list[str]]:
    env = Environment(
        config,
        log_sink=None if quiet else print_log_line,
        cpu_visibility=cpu_visibility,
        log_format=log_format,
    )
    async with env:
        warnings = run_warnings(env)
        if not quiet:
            for warning in warnings:
                err_console.print(f"[yellow]coldlab: warning:[/] {warning}", markup=True, highlight=False)
        return await run_invocations(env, event, repeat, interval_ms), env, warnings
