"""`coldlab inspect`: what makes a Go bootstrap big and slow to start (sizes, findings, init, budgets)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from coldlab.cli.output import print_json
from coldlab.errors import UsageError
from coldlab.inspect import budgets as bud
from coldlab.inspect.analyze import inspect_binary
from coldlab.inspect.diff import diff, load_report_json
from coldlab.inspect.inittrace import InitTrace, check_runnable, run_init_trace
from coldlab.inspect.model import Report
from coldlab.inspect.names import ModuleMap


def _report_json(path: Path) -> dict[str, Any]:
    saved = load_report_json(path)
    return saved if saved is not None else inspect_binary(path).to_json()


def trace_json(trace: InitTrace) -> dict[str, Any]:
    return {
        "status": trace.status,
        "init_duration_ms": trace.init_duration_ms,
        "package_init_clock_ms": round(trace.clock_ms, 3),
        "bytes": trace.bytes,
        "allocs": trace.allocs,
        "packages": [asdict(e) for e in trace.entries],
        "notes": list(trace.notes),
    }


def _breaches_json(breaches: list[bud.Breach]) -> dict[str, Any]:
    return {"exceeded": [asdict(b) for b in breaches]}


@click.command("inspect")
@click.argument("binary", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.inspect/1).")
@click.option("--markdown", is_flag=True, help="Print Markdown for a pull-request comment.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML treemap to FILE.",
)
@click.option("--top", default=15, show_default=True, type=click.IntRange(1, 10_000), help="Rows per table.")
@click.option(
    "--diff",
    "diff_paths",
    nargs=2,
    type=click.Path(path_type=Path),
    metavar="OLD NEW",
    help="Compare two binaries (or saved --json reports) per module, package and section.",
)
@click.option("--max-size", metavar="SIZE", help="Exit 1 when the file is larger (e.g. 10MiB).")
@click.option(
    "--max-module",
    "max_modules",
    multiple=True,
    metavar="PATH=SIZE",
    help="Exit 1 when a module (and modules under its path) is larger. Repeatable.",
)
@click.option(
    "--max-init-ms",
    type=click.FloatRange(min=0),
    metavar="N",
    help="Exit 1 when init (exec to first /next) takes longer. Implies --init-trace.",
)
@click.option(
    "--init-trace",
    is_flag=True,
    help="Cold-start the bootstrap in coldlab's execution environment with GODEBUG=inittrace=1.",
)
@click.option(
    "--memory",
    "memory_mb",
    default=1769,
    show_default=True,
    type=int,
    help="Memory size (MB) for --init-trace; 1769 MB buys one full vCPU.",
)
def command(
    *,
    binary: Path | None,
    as_json: bool,
    markdown: bool,
    html_file: Path | None,
    top: int,
    diff_paths: tuple[Path, Path] | None,
    max_size: str | None,
    max_modules: tuple[str, ...],
    max_init_ms: float | None,
    init_trace: bool,
    memory_mb: int,
) -> None:
    """Explain what makes a Go BINARY (a Lambda bootstrap) big and slow to start.

    Every byte of the file is assigned to exactly one owner (module, package, section, metadata), so the
    tables add up to the file size. Works on stripped binaries; needs no Go toolchain.
    """
    if as_json and markdown:
        raise UsageError("--json and --markdown are alternatives", "choose one output format")
    budgets = bud.Budgets(
        bud.parse_size(max_size) if max_size else None,
        tuple(bud.parse_module_budget(m) for m in max_modules),
        max_init_ms,
    )
    out = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    if diff_paths:
        if binary is not None or init_trace or max_init_ms is not None or html_file:
            raise UsageError(
                "--diff OLD NEW takes no BINARY, --init-trace, --max-init-ms or --html",
                "run `coldlab inspect --diff old new` on its own",
            )
        _diff(diff_paths, budgets, out, as_json=as_json, markdown=markdown, top=top)
        return
    if binary is None:
        raise UsageError("no BINARY given", "usage: coldlab inspect path/to/bootstrap (or --diff OLD NEW)")
    report = inspect_binary(binary, top=max(top, 40))
    trace = _trace(binary, report, memory_mb) if init_trace or max_init_ms is not None else None
    breaches = bud.check_report(report, budgets, trace)
    if html_file is not None:
        from coldlab.inspect.html import report_html

        try:
            html_file.write_text(report_html(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {html_file}: {exc.strerror}", "choose a writable path") from exc
    if as_json:
        doc = report.to_json()
        doc["init_trace"] = trace_json(trace) if trace is not None else None
        doc["budgets"] = _breaches_json(breaches)
        print_json(doc)
    elif markdown:
        from coldlab.inspect.markdown import report_markdown

        sys.stdout.write(report_markdown(report, top, trace, breaches))
    else:
        from coldlab.inspect.render import report_view

        out.print(report_view(report, top, trace, breaches))
        if html_file is not None:
            out.print(f"treemap written to {html_file}")
    if breaches:
        for b in breaches:
            click.echo(f"coldlab: budget exceeded: {b.message}", err=True)
        sys.exit(1)


def _trace(binary: Path, report: Report, memory_mb: int) -> InitTrace:
    check_runnable(report.facts.goarch)
    from coldlab.inspect.buildinfo import BuildInfo

    f = report.facts
    modules = ModuleMap(BuildInfo(f.go_version, f.main_path, f.main_module, f.deps, f.settings))
    return asyncio.run(run_init_trace(binary, modules, memory_mb))


def _diff(
    paths: tuple[Path, Path], budgets: bud.Budgets, out: Console, *, as_json: bool, markdown: bool, top: int
) -> None:
    old, new = (_report_json(p) for p in paths)
    d = diff(old, new)
    breaches = bud.check(d.new_size, {m["name"]: int(m["size"]) for m in new["modules"]}, budgets, None)
    if as_json:
        print_json({**d.to_json(), "budgets": _breaches_json(breaches)})
    elif markdown:
        from coldlab.inspect.markdown import diff_markdown

        sys.stdout.write(diff_markdown(d, top))
    else:
        from coldlab.inspect.render import diff_view

        out.print(diff_view(d, top))
    if breaches:
        for b in breaches:
            click.echo(f"coldlab: budget exceeded: {b.message}", err=True)
        sys.exit(1)
