"""`coldlab lint`: parse the options, run coldlab.lint, print text / JSON / SARIF, exit 1 on findings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coldlab.cli.output import err_console, print_json
from coldlab.errors import UsageError

if TYPE_CHECKING:
    from coldlab.lint.helper import Progress

_SEVERITIES = ("info", "warning", "error")  # as coldlab.lint.model.SEVERITIES (a test keeps them equal)
_BAR_MIN_FILES = 100  # below this a module lints in a moment: no bar


@click.command("lint")
@click.argument("patterns", nargs=-1, metavar="[PATTERN]...")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The module directory the patterns are relative to.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.lint/1).")
@click.option(
    "--sarif",
    "sarif_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write SARIF 2.1.0 to FILE (for GitHub code scanning); the text report still goes to stdout.",
)
@click.option(
    "--severity",
    type=click.Choice(_SEVERITIES),
    default="warning",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)
@click.option(
    "--template",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A SAM template: the function's MemorySize and GOMAXPROCS (default: template.yaml if present).",
)
@click.option(
    "--memory", "memory_mb", type=click.IntRange(128, 10240), help="Memory size in MB (over the template's)."
)
@click.option("--jobs", type=click.IntRange(min=1), help="Parallel build and type-check jobs (default: CPUs)")
def command(
    *,
    patterns: tuple[str, ...],
    directory: Path,
    as_json: bool,
    sarif_file: Path | None,
    severity: str,
    template: Path | None,
    memory_mb: int | None,
    jobs: int | None,
) -> None:
    """Find in Go source the patterns a frozen Lambda process gives up (init network calls, goroutines,
    caches, servers, GOMAXPROCS).

    PATTERNs are Go package patterns (default: ./..., every package of the module in --dir). Calls are
    resolved by Go's type checker: network and AWS SDK calls reachable from init, goroutines and tickers
    started before lambda.Start, SIGTERM handlers without an extension, package-level caches written by the
    handler, servers in a Lambda function, GOMAXPROCS below 1,769 MB. Suppress one finding with
    `//coldlab:ignore RULE reason` on its line or the line above.
    """
    from coldlab.lint import lint
    from coldlab.lint.output import json_document, render_text
    from coldlab.lint.sarif import sarif_document

    if as_json and sarif_file is not None and str(sarif_file) == "-":
        raise UsageError("--json and --sarif - both want stdout", "write the SARIF to a file")
    with _progress_bar() as progress:
        report = lint(
            directory,
            patterns or ("./...",),
            memory_mb=memory_mb,
            template=template,
            jobs=jobs,
            progress=progress,
        )
    if sarif_file is not None:
        _write(sarif_file, sarif_document(report))
    if as_json:
        print_json(json_document(report, severity))
    elif sarif_file is None or str(sarif_file) != "-":
        click.echo(render_text(report, severity))
    if report.at_or_above(severity):
        sys.exit(1)


def _write(path: Path, document: dict[str, Any]) -> None:
    text = json.dumps(document, indent=2) + "\n"
    if str(path) == "-":
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"could not write the SARIF file {path}: {exc.strerror}", "check the path") from exc


class _progress_bar:  # noqa: N801 (used as a context manager, named as one)
    """A rich progress bar on stderr for a big module, when stderr is a terminal; else no callback."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress | None:
        if not err_console.is_terminal:
            return None
        return self._update

    def _update(self, phase: str, done: int, total: int) -> None:
        if self._bar is None:
            if phase != "build" or total < _BAR_MIN_FILES:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("[bold]lint[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                console=err_console, transient=True,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task("building dependencies", total=total)
        labels = {"build": "building dependencies", "parse": "parsing files", "analyse": "analysing packages"}
        self._bar.update(self._task, description=labels.get(phase, phase), completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
