"""`coldlab anatomy`: a cold start of your own function taken apart by phase (parsing and printing only)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from coldlab.cli.output import err_console, print_json
from coldlab.config import DEFAULT_MEMORY_MB
from coldlab.errors import UsageError


@click.command("anatomy")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--memory",
    "memory_mb",
    type=int,
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="Memory size (MB); CPU follows it as on Lambda (1769 MB = one vCPU)",
)
@click.option("--event", metavar="FILE|-", help="Event JSON for every request [default: {}]")
@click.option(
    "--runs", type=click.IntRange(1, 1000), default=10, show_default=True, help="Cold starts to make"
)
@click.option(
    "--warm",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Warm requests after each cold start (the warm median)",
)
@click.option(
    "--init-cpu",
    metavar="VCPUS|memory",
    help="CPU from exec to the first /next [default: $COLDLAB_INIT_CPU, else 1 vCPU]",
)
@click.option("--no-network", is_flag=True, help="Do not trace network calls during init (no strace run)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.anatomy/1)")
@click.option("--markdown", is_flag=True, help="Print Markdown for a pull-request comment")
@click.option(
    "--png", "png_path", type=click.Path(path_type=Path), help="Write a waterfall chart (PNG or SVG)"
)
@click.option(
    "--max-cold-start-ms",
    type=click.FloatRange(min=0),
    metavar="N",
    help="Exit 1 when the cold-start latency a client sees (p50) is above N ms",
)
@click.option("--target", metavar="aws:FUNCTION[:REGION]", help="Also force cold starts of a real function")
@click.option("--endpoint-url", help="Lambda API endpoint for --target (e.g. coldlab serve)")
def command(
    *,
    path: Path | None,
    memory_mb: int,
    event: str | None,
    runs: int,
    warm: int,
    init_cpu: str | None,
    no_network: bool,
    as_json: bool,
    markdown: bool,
    png_path: Path | None,
    max_cold_start_ms: float | None,
    target: str | None,
    endpoint_url: str | None,
) -> None:
    """Cold-start the function at PATH (a directory or .zip holding `bootstrap`) N times and take it apart
    by phase.

    Each phase gets its p50 and p90, its owner (platform, OS, Go, your code), whether it is measured here or
    modelled (and from what), what Lambda bills, and what dominates it; then advice ranked by the
    milliseconds it saves per cold start. Exits 1 when init fails or the budget is exceeded, 2 on bad input.
    """
    from coldlab.events import read_event

    if as_json and markdown:
        raise UsageError("--json and --markdown are alternatives", "choose one output format")
    if path is None and target is None:
        raise UsageError("no function given", "usage: coldlab anatomy PATH (or --target aws:FUNCTION)")
    if png_path is not None:
        from coldlab.tune.chart import check_path

        check_path(png_path, "--png")
    payload = read_event(event)
    spec = None
    if path is not None:
        from coldlab.anatomy.runner import RunSpec
        from coldlab.config import FunctionConfig
        from coldlab.sandbox.initcpu import init_cpu_allowance

        FunctionConfig.create(path, memory_mb=memory_mb)  # the memory size's range, before anything runs
        init_cpu_allowance(init_cpu)  # a bad --init-cpu (or $COLDLAB_INIT_CPU) fails before anything runs
        spec = RunSpec(path, memory_mb, runs=runs, warm=warm, event=payload, init_cpu=init_cpu,
                       trace_network=not no_network)  # fmt: skip
    aws_doc = None
    if target is not None:
        aws_doc = _aws(target, endpoint_url, memory_mb=memory_mb, runs=runs, warm=warm, payload=payload)
    if spec is None:
        _print_aws_only(aws_doc, as_json)
        return
    result = _local(spec, quiet=as_json or markdown)
    from coldlab.anatomy.report import budget_exceeded, document

    if png_path is not None:
        from coldlab.anatomy.waterfall import write_waterfall

        write_waterfall(result, png_path)
    if as_json:
        print_json(document(result, max_cold_start_ms=max_cold_start_ms, aws=aws_doc))
    elif markdown:
        from coldlab.anatomy.render import markdown as to_markdown

        sys.stdout.write(to_markdown(result))
    else:
        _print_human(result, aws_doc, png_path)
    _finish(result, max_cold_start_ms, budget_exceeded(result, max_cold_start_ms))


def _local(spec: Any, *, quiet: bool) -> Any:
    from coldlab.anatomy.analyze import analyze

    if quiet or not err_console.is_terminal:
        return asyncio.run(analyze(spec))
    from rich.progress import Progress

    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("cold starts", total=spec.runs)
        return asyncio.run(analyze(spec, lambda done, total: bar.update(task, completed=done)))


def _aws(
    target: str, endpoint_url: str | None, *, memory_mb: int, runs: int, warm: int, payload: bytes
) -> dict[str, Any]:
    from coldlab.anatomy.aws import measure_aws
    from coldlab.tune.plan import parse_target

    parsed = parse_target(target, None)
    assert parsed.function_name is not None
    return asyncio.run(
        measure_aws(parsed.function_name, region=parsed.region, endpoint_url=endpoint_url,
                    memory_mb=memory_mb, runs=runs, warm=warm, event=payload)
    )  # fmt: skip


def _print_aws_only(doc: dict[str, Any] | None, as_json: bool) -> None:
    if doc is None:
        return
    if as_json:
        from coldlab.anatomy import SCHEMA

        print_json({"schema": SCHEMA, "local": None, "aws": doc})
        return
    _print_aws(doc)


def _print_aws(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    table = Table(
        title=f"{doc['function']} on {doc['endpoint']} at {doc['memory_mb']} MB", title_justify="left"
    )
    for column in ("measured row", "p50 ms", "p90 ms"):
        table.add_column(column, justify="left" if column == "measured row" else "right")
    for key, name in (("init_duration_ms", "Init Duration (REPORT)"), ("first_duration_ms", "first request"),
                      ("first_request_extra_ms", "first request's extra cost")):  # fmt: skip
        band = doc.get(key)
        table.add_row(
            name, *(("-", "-") if band is None else (f"{band['p50_ms']:.1f}", f"{band['p90_ms']:.1f}"))
        )
    out.print(table)
    out.print(f"{doc['cold_starts']} cold starts of {doc['invocations']} invocations; warm median "
              f"{doc['warm_median_ms']} ms; fidelity: {doc['fidelity']['cpu']}")  # fmt: skip
    for line in doc["init_reports"]:
        out.print(f"  {line}")


def _print_human(result: Any, aws_doc: dict[str, Any] | None, png_path: Path | None) -> None:
    from rich.console import Console

    from coldlab.anatomy.render import view

    out = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
    out.print(view(result))
    if aws_doc is not None:
        _print_aws(aws_doc)
    if png_path is not None:
        out.print(f"waterfall written to {png_path}")


def _finish(result: Any, budget: float | None, exceeded: bool) -> None:
    failure = result.anatomy.failure
    if failure is not None:
        from coldlab.anatomy.analyze import InitFailedError

        detail = f": {failure.failure_detail}" if failure.failure_detail else ""
        raise InitFailedError(
            f"init failed in cold start {failure.index + 1} ({failure.failure} after "
            f"{failure.init_ms or 0:.1f} ms){detail}",
            "the phases up to the failure are shown above; fix the init and run again",
        )
    if exceeded:
        latency = result.anatomy.totals.cold_latency
        click.echo(
            f"coldlab: budget exceeded: cold-start latency p50 {latency.p50_ms:.1f} ms > {budget:g} ms",
            err=True,
        )
        sys.exit(1)
