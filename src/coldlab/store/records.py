"""Invocation records: every invocation's REPORT figures, one row each, and their summary per function.

The platform hands records to the state database's writer (batched, off the invoke's path); `coldlab
records` reads them back. The CSV export's first columns are what `coldlab simulate --invocations` reads:
`timestamp` (seconds since the first exported record), `function`, `duration_ms`.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from coldlab.pricing import MB_PER_GB, PriceTable, lambda_cost

SCHEMA = (
    """CREATE TABLE records (
        seq INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        function TEXT NOT NULL,
        version TEXT NOT NULL,
        invocation_type TEXT NOT NULL,
        environment_id TEXT NOT NULL,
        initialization_type TEXT NOT NULL,
        cold INTEGER NOT NULL,
        init_ms REAL,
        duration_ms REAL NOT NULL,
        billed_ms INTEGER NOT NULL,
        memory_mb INTEGER NOT NULL,
        max_memory_mb INTEGER NOT NULL,
        status TEXT NOT NULL,
        error_type TEXT,
        architecture TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL
    )""",
    "CREATE INDEX records_time ON records (started_at)",
    "CREATE INDEX records_function_time ON records (function, started_at)",
)
# Schema 2: the EMF lines each invocation printed (JSON, NULL when none). A version-1 database read as it is
# (`coldlab records` opens it read-only) has no such column: its records read back with no EMF.
SCHEMA_2 = ("ALTER TABLE records ADD COLUMN emf TEXT",)


class _EmfLike(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


def emf_json(emf: Sequence[_EmfLike]) -> str | None:
    """An invocation's EMF records (coldlab.platform.emf) as stored: None for the usual none."""
    return json.dumps([record.as_dict() for record in emf], separators=(",", ":")) if emf else None


@dataclass(frozen=True)
class InvocationRecord:
    """One invocation as its REPORT line and the platform saw it. Times are epoch seconds."""

    request_id: str
    function: str
    version: str  # the executed version: "$LATEST" or a number
    invocation_type: str  # "RequestResponse" | "Event" | "Url"
    environment_id: str
    initialization_type: str  # "on-demand" | "provisioned-concurrency"
    cold: bool
    init_ms: float | None
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    status: str  # "success" | "error" | "timeout"
    error_type: str | None
    architecture: str
    started_at: float
    ended_at: float
    emf: str | None = None  # emf_json of the EMF lines printed: metrics, or why a line was invalid

    @property
    def emf_records(self) -> list[dict[str, Any]]:
        parsed: list[dict[str, Any]] = json.loads(self.emf) if self.emf else []
        return parsed

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["started"] = iso(self.started_at)
        document["emf"] = self.emf_records
        return document


_NAMES = tuple(field.name for field in fields(InvocationRecord))
# The column names are the dataclass's fields (never user input): hence the S608 notes.
_INSERT = f"INSERT INTO records ({', '.join(_NAMES)}) VALUES ({', '.join('?' for _ in _NAMES)})"  # noqa: S608


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def insert(conn: sqlite3.Connection, records: Sequence[InvocationRecord]) -> int:
    conn.executemany(_INSERT, [_row(record) for record in records])
    return len(records)


def _row(record: InvocationRecord) -> tuple[Any, ...]:
    """dataclasses.astuple deep-copies; the fields are flat."""
    return tuple(getattr(record, name) for name in _NAMES)


def query(
    conn: sqlite3.Connection, *, function: str | None = None, since: float | None = None
) -> Iterator[InvocationRecord]:
    """Records in time order, optionally of one function and from `since` (epoch s) on."""
    where: list[str] = []
    args: list[object] = []
    if function is not None:
        where.append("function = ?")
        args.append(function)
    if since is not None:
        where.append("started_at >= ?")
        args.append(since)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
    selected = ", ".join(name if name in columns else f"NULL AS {name}" for name in _NAMES)
    sql = f"SELECT {selected} FROM records{clause} ORDER BY started_at, seq"  # noqa: S608
    for row in conn.execute(sql, args):
        values = dict(zip(_NAMES, row, strict=True))
        values["cold"] = bool(values["cold"])
        yield InvocationRecord(**values)


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


# --- summary ---------------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on an already sorted list."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass(frozen=True)
class FunctionSummary:
    function: str
    invokes: int
    cold_starts: int
    errors: int  # status error or timeout
    p50_ms: float
    p99_ms: float
    gb_seconds: float  # billed duration x memory
    cost: float  # requests + duration at the first tier, from coldlab.pricing

    @property
    def cold_start_pct(self) -> float:
        return 100.0 * self.cold_starts / self.invokes if self.invokes else 0.0

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["cold_start_pct"] = round(self.cold_start_pct, 3)
        return document


def summarize(records: Iterable[InvocationRecord], prices: PriceTable) -> list[FunctionSummary]:
    """One summary per function, by name."""
    by_function: dict[str, list[InvocationRecord]] = {}
    for record in records:
        by_function.setdefault(record.function, []).append(record)
    summaries = []
    for name in sorted(by_function):
        rows = by_function[name]
        durations = sorted(row.duration_ms for row in rows)
        gb_s: dict[str, float] = {}
        for row in rows:
            gb_s[row.architecture] = gb_s.get(row.architecture, 0.0) + (
                row.billed_ms / 1000.0 * row.memory_mb / MB_PER_GB
            )
        cost = (
            sum(
                lambda_cost(prices, requests=0, duration_gb_seconds=seconds, arch=arch).total
                for arch, seconds in gb_s.items()
            )
            + len(rows) * prices.lambda_request
        )
        summaries.append(
            FunctionSummary(
                function=name,
                invokes=len(rows),
                cold_starts=sum(1 for row in rows if row.cold),
                errors=sum(1 for row in rows if row.status != "success"),
                p50_ms=percentile(durations, 50),
                p99_ms=percentile(durations, 99),
                gb_seconds=sum(gb_s.values()),
                cost=cost,
            )
        )
    return summaries


# --- CSV export ------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "timestamp",  # s since the first exported record: coldlab simulate --invocations reads it
    "function",
    "duration_ms",
    "started_at",
    "request_id",
    "version",
    "invocation_type",
    "environment_id",
    "cold",
    "init_ms",
    "billed_ms",
    "memory_mb",
    "max_memory_mb",
    "status",
    "error_type",
)


def csv_rows(records: Iterable[InvocationRecord]) -> Iterator[list[str]]:
    """The rows under CSV_COLUMNS, in time order as given."""
    first: float | None = None
    for record in records:
        first = record.started_at if first is None else first
        yield [
            f"{record.started_at - first:.6f}",
            record.function,
            f"{record.duration_ms:.3f}",
            iso(record.started_at),
            record.request_id,
            record.version,
            record.invocation_type,
            record.environment_id,
            "true" if record.cold else "false",
            "" if record.init_ms is None else f"{record.init_ms:.3f}",
            str(record.billed_ms),
            str(record.memory_mb),
            str(record.max_memory_mb),
            record.status,
            record.error_type or "",
        ]
