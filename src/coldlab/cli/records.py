"""`coldlab records`: the invocation records `coldlab serve` wrote, and a summary per function."""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coldlab.errors import UsageError

if TYPE_CHECKING:
    from coldlab.store.records import FunctionSummary, InvocationRecord

SCHEMA = "coldlab.records/1"
_AGO = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> float:
    """`15m`, `2h`, `1d`, `90` (that long ago) or an ISO-8601 time (UTC unless it says so) → epoch s."""
    match = _AGO.fullmatch(text)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a time nor a duration",
            "give e.g. 15m, 2h, 1d (that long ago) or 2026-12-01T10:00:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _text(records: list[InvocationRecord], summaries: list[FunctionSummary], where: str, limit: int) -> None:
    from rich.console import Console
    from rich.table import Table

    # A pipe gets whole rows (rich would squeeze them to 80 columns); a terminal gets its width.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    console.print(f"{len(records)} invocation records in {where}")
    if not records:
        return
    shown = records[-limit:] if limit else []
    if shown:
        table = Table(title=f"the last {len(shown)}" if len(shown) < len(records) else None)
        for column in ("started (UTC)", "function", "type", "request", "environment", "start"):
            table.add_column(column)
        for column in ("init ms", "ms", "billed", "max MB"):
            table.add_column(column, justify="right")
        table.add_column("status")
        for r in shown:
            table.add_row(
                r.as_dict()["started"][11:23],
                r.function if r.version == "$LATEST" else f"{r.function}:{r.version}",
                r.invocation_type,
                r.request_id[:8],
                r.environment_id,
                "cold" if r.cold else "warm",
                "" if r.init_ms is None else f"{r.init_ms:.1f}",
                f"{r.duration_ms:.1f}",
                str(r.billed_ms),
                f"{r.max_memory_mb}/{r.memory_mb}",
                r.status if r.error_type is None else f"{r.status} ({r.error_type})",
            )
        console.print(table)
    summary = Table(title="per function")
    summary.add_column("function")
    for column in ("invokes", "cold starts", "cold %", "errors", "p50 ms", "p99 ms", "GB-s", "cost $"):
        summary.add_column(column, justify="right")
    for s in summaries:
        summary.add_row(
            s.function,
            str(s.invokes),
            str(s.cold_starts),
            f"{s.cold_start_pct:.1f}",
            str(s.errors),
            f"{s.p50_ms:.1f}",
            f"{s.p99_ms:.1f}",
            f"{s.gb_seconds:.4f}",
            f"{s.cost:.8f}",
        )
    console.print(summary)


@click.command("records")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The directory `coldlab serve --state-dir` used [default: ~/.cache/coldlab/serve]",
)
@click.option("--function", "function", default=None, help="Only this function's records")
@click.option("--since", default=None, help="From this time on: 15m, 2h, 1d (ago) or 2026-12-01T10:00:00Z")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (schema coldlab.records/1)")
@click.option(
    "--csv", "as_csv", is_flag=True, help="The records as CSV (what `coldlab simulate --invocations` reads)"
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Rows shown in the text table"
)
def command(
    *,
    state_dir: Path | None,
    function: str | None,
    since: str | None,
    as_json: bool,
    as_csv: bool,
    limit: int,
) -> None:
    """Print the invocation records `coldlab serve` wrote (REPORT figures of every invocation) and a
    summary per function: invokes, cold-start %, p50/p99 duration, GB-s and cost."""
    if as_json and as_csv:
        raise UsageError("--json and --csv cannot both be given", "pick one output format")
    import sqlite3

    from coldlab.pricing import load_prices
    from coldlab.store import records as store
    from coldlab.store.db import default_state_dir, open_reader

    directory = state_dir if state_dir is not None else default_state_dir()
    start = None if since is None else parse_since(since, time.time())
    conn = open_reader(directory)
    try:
        rows = list(store.query(conn, function=function, since=start))
    except sqlite3.Error as exc:  # a file damaged after it was opened: one line, as at open
        from coldlab.store.db import StateError

        raise StateError(
            f"cannot read the records in {directory}: {exc}", "check the state directory"
        ) from exc
    finally:
        conn.close()
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(store.CSV_COLUMNS)
        writer.writerows(store.csv_rows(rows))
        return
    prices = load_prices()
    summaries = store.summarize(rows, prices)
    if as_json:
        from coldlab.cli.output import print_json

        document: dict[str, Any] = {
            "schema": SCHEMA,
            "database": str(directory.expanduser().absolute() / "state.db"),
            "function": function,
            "since": None if start is None else store.iso(start),
            "prices": {"date": prices.date, "region": prices.region, "currency": prices.currency},
            "summary": [s.as_dict() for s in summaries],
            "records": [r.as_dict() for r in rows],
        }
        print_json(document)
        return
    _text(rows, summaries, str(directory), limit)
