"""Invocation records: stored and read back in time order, filtered, summarised (percentiles, GB-s, cost from
the price table), exported as the CSV `coldlab simulate --invocations` reads; `--since` parsing."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from coldlab.cli.records import parse_since
from coldlab.errors import UsageError
from coldlab.platform.emf import scan_emf
from coldlab.pricing import load_prices
from coldlab.sim.traces import read_invocations
from coldlab.store import records
from coldlab.store.db import DB_NAME, MIGRATIONS, SCHEMA_VERSION, StateDb, open_reader
from coldlab.store.records import InvocationRecord

BASE = InvocationRecord(
    request_id="r",
    function="fn",
    version="$LATEST",
    invocation_type="RequestResponse",
    environment_id="e1",
    initialization_type="on-demand",
    cold=False,
    init_ms=None,
    duration_ms=10.0,
    billed_ms=10,
    memory_mb=512,
    max_memory_mb=20,
    status="success",
    error_type=None,
    architecture="x86_64",
    started_at=1_700_000_000.0,
    ended_at=1_700_000_000.01,
)


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    for step in sorted(MIGRATIONS):
        for statement in MIGRATIONS[step]:
            connection.execute(statement)
    yield connection
    connection.close()


def sample() -> list[InvocationRecord]:
    return [
        replace(BASE, request_id="cold", cold=True, init_ms=55.5, duration_ms=30.0, billed_ms=86),
        *(
            replace(
                BASE, request_id=f"w{i}", duration_ms=float(i), billed_ms=i, started_at=BASE.started_at + i
            )
            for i in range(1, 20)
        ),
        replace(BASE, request_id="other", function="other", status="error", error_type="Runtime.ExitError"),
    ]


def test_records_round_trip_in_time_order_and_filter(conn: sqlite3.Connection) -> None:
    rows = sample()
    assert records.insert(conn, list(reversed(rows))) == len(rows)
    back = list(records.query(conn))
    assert [r.started_at for r in back] == sorted(r.started_at for r in rows)
    assert {r.request_id for r in back} == {r.request_id for r in rows}
    cold = next(r for r in back if r.request_id == "cold")
    assert cold == rows[0]  # every field, the bool and the None included
    assert {r.request_id for r in records.query(conn, function="other")} == {"other"}
    assert [r.request_id for r in records.query(conn, since=BASE.started_at + 18)] == ["w18", "w19"]
    assert records.count(conn) == len(rows)


def test_the_summary_per_function() -> None:
    prices = load_prices()
    rows = sample()
    (fn, other) = records.summarize(rows, prices)
    mine = [r for r in rows if r.function == "fn"]
    durations = [r.duration_ms for r in mine]
    assert (fn.function, fn.invokes, fn.cold_starts, fn.errors) == ("fn", 20, 1, 0)
    assert fn.cold_start_pct == pytest.approx(5.0)
    assert fn.p50_ms == pytest.approx(float(np.percentile(durations, 50)))
    assert fn.p99_ms == pytest.approx(float(np.percentile(durations, 99)))
    gb_s = sum(r.billed_ms for r in mine) / 1000 * 512 / 1024
    assert fn.gb_seconds == pytest.approx(gb_s)
    assert fn.cost == pytest.approx(20 * prices.lambda_request + gb_s * prices.lambda_gb_second("x86_64"))
    assert (other.invokes, other.errors) == (1, 1)


def test_the_csv_export_is_what_the_simulator_reads(tmp_path: Path) -> None:
    rows = sample()
    rows.sort(key=lambda r: r.started_at)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(records.CSV_COLUMNS)
    writer.writerows(records.csv_rows(rows))
    path = tmp_path / "records.csv"
    path.write_text(out.getvalue())
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert parsed[0]["timestamp"] == "0.000000"  # seconds since the first record
    assert parsed[0]["cold"] == "true" and parsed[0]["init_ms"] == "55.500"
    times, durations = (np.concatenate(parts) for parts in zip(*read_invocations(path, "fn"), strict=True))
    mine = [r for r in rows if r.function == "fn"]
    assert list(times) == pytest.approx([r.started_at - rows[0].started_at for r in mine])
    assert list(durations) == pytest.approx([r.duration_ms / 1000 for r in mine])


def test_since_takes_durations_ago_and_iso_times() -> None:
    now = 1_000_000.0
    assert parse_since("15m", now) == now - 900
    assert parse_since("2h", now) == now - 7200
    assert parse_since("90", now) == now - 90
    assert parse_since("1970-01-02T00:00:00Z", now) == 86400
    assert parse_since("1970-01-02T01:00:00+01:00", now) == 86400
    assert parse_since("1970-01-02T00:00:00", now) == 86400  # UTC unless it says otherwise
    with pytest.raises(UsageError, match="neither a time nor a duration"):
        parse_since("last tuesday", now)


EMF_LINE = (
    '{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"ns","Dimensions":[["service"]],'
    '"Metrics":[{"Name":"ColdStart","Unit":"Count"}]}]},"service":"fn","ColdStart":1}'
)
BAD_LINE = '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Metrics":[{"Name":"X","Unit":"Parsecs"}]}]},"X":1}'


def test_the_emf_an_invocation_printed_round_trips(conn: sqlite3.Connection) -> None:
    emf = [*scan_emf(EMF_LINE), *scan_emf(BAD_LINE)]
    record = replace(BASE, request_id="emf", emf=records.emf_json(emf))
    assert records.emf_json([]) is None  # the usual invocation stores NULL
    records.insert(conn, [record, BASE])
    back = {r.request_id: r for r in records.query(conn)}
    assert back["emf"] == record and back["r"].emf is None
    valid, invalid = back["emf"].as_dict()["emf"]
    assert valid["directives"][0]["metrics"][0] == {
        "name": "ColdStart", "unit": "Count", "storage_resolution": 60, "values": [1.0]
    }  # fmt: skip
    assert (
        invalid["valid"] is False
        and invalid["error"] == "EMFValidationErrors"
        and "Parsecs" in invalid["message"]
    )
    assert back["r"].as_dict()["emf"] == []


def _version_1_database(directory: Path) -> None:
    """A state database as the coldlab before EMF columns wrote it (schema 1), holding one record."""
    directory.mkdir()
    old = sqlite3.connect(directory / DB_NAME)
    for statement in MIGRATIONS[1]:
        old.execute(statement)
    names = [name for name in records._NAMES if name != "emf"]
    values = [getattr(BASE, name) for name in names]
    old.execute(f"INSERT INTO records ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})", values)
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()


def test_a_version_1_database_reads_as_it_is_and_migrates_keeping_its_records(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == 2
    state_dir = tmp_path / "state"
    _version_1_database(state_dir)
    reader = open_reader(state_dir)  # `coldlab records` on an old database: read-only, not migrated
    try:
        assert list(records.query(reader)) == [BASE]
        assert reader.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        reader.close()
    StateDb.open(state_dir).close()  # a server migrates it forward
    conn = sqlite3.connect(state_dir / DB_NAME)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert list(records.query(conn)) == [BASE]
        records.insert(conn, [replace(BASE, request_id="new", emf=records.emf_json(scan_emf(EMF_LINE)))])
        assert [r.emf is not None for r in records.query(conn)] == [False, True]
    finally:
        conn.close()
