"""`coldlab records` on what a real `coldlab serve` recorded: synchronous, Event and function URL invokes,
as text, JSON and CSV; filters; the CSV read back by `coldlab simulate --invocations`; bad input."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from coldlab.store.records import CSV_COLUMNS
from support.runtime_scripts import GoBuilder
from support.serve import COLDLAB, ServeProcess, code_dir, lambda_client

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def state(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A state directory holding 6 records of `hello`: 3 synchronous (1 failing), 2 Event, 1 function URL."""
    code = code_dir(go_build("hello-go"), tmp_path_factory.mktemp("code") / "hello")
    directory = tmp_path_factory.mktemp("state")
    serve = ServeProcess(str(code), "--url", "--state-dir", str(directory), cwd=directory.parent)
    with serve:
        client = lambda_client(serve.url)
        sync = [
            client.invoke(FunctionName="hello", Payload=payload)["ResponseMetadata"]["RequestId"]
            for payload in (b'{"name": "a"}', b'{"name": "b"}', b'{"fail": true}')
        ]
        events = [
            client.invoke(FunctionName="hello", InvocationType="Event", Payload=b"{}")["ResponseMetadata"][
                "RequestId"
            ]
            for _ in range(2)
        ]
        (url,) = [m.group(1) for line in serve.lines if (m := re.search(r" url (http://\S+)$", line))]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
        serve.wait_for(lambda: serve.status()["records"]["written"] == 6, "6 records written")
    return directory, {"sync": sync, "events": events}


def records(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COLDLAB, "records", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_json_has_every_record_and_the_summary(state: tuple[Path, dict[str, Any]]) -> None:
    directory, ids = state
    done = records("--state-dir", str(directory), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == "coldlab.records/1"
    rows = document["records"]
    assert len(rows) == 6
    assert Counter(r["invocation_type"] for r in rows) == {"RequestResponse": 3, "Event": 2, "Url": 1}
    assert {*ids["sync"], *ids["events"]} <= {r["request_id"] for r in rows}
    assert [r["started_at"] for r in rows] == sorted(r["started_at"] for r in rows)
    first = rows[0]
    assert first["cold"] is True and first["init_ms"] > 0 and first["environment_id"]
    assert all(r["function"] == "hello" and r["version"] == "$LATEST" and r["memory_mb"] == 128 for r in rows)
    assert all(
        r["ended_at"] >= r["started_at"] and r["billed_ms"] >= 1 and r["max_memory_mb"] > 0 for r in rows
    )
    (failed,) = [r for r in rows if r["status"] != "success"]
    assert (failed["status"], failed["error_type"]) == ("error", "errorString")
    (summary,) = document["summary"]
    durations = [r["duration_ms"] for r in rows]
    assert summary["function"] == "hello" and summary["invokes"] == 6 and summary["errors"] == 1
    assert summary["cold_starts"] == sum(r["cold"] for r in rows)
    assert summary["cold_start_pct"] == pytest.approx(100 * summary["cold_starts"] / 6, abs=1e-3)
    assert summary["p50_ms"] == pytest.approx(float(np.percentile(durations, 50)))
    assert summary["p99_ms"] == pytest.approx(float(np.percentile(durations, 99)))
    assert summary["gb_seconds"] == pytest.approx(sum(r["billed_ms"] for r in rows) / 1000 * 128 / 1024)
    assert summary["cost"] > 0


def test_text_shows_the_records_and_the_summary(state: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = state
    done = records("--state-dir", str(directory), "--limit", "2")
    assert done.returncode == 0, done.stderr
    assert f"6 invocation records in {directory}" in done.stdout
    assert "the last 2" in done.stdout and "per function" in done.stdout
    assert re.search(r"│ hello\s+│\s+6 │", done.stdout)  # the summary row: 6 invokes


def test_filters(state: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = state
    assert "0 invocation records" in records("--state-dir", str(directory), "--function", "nope").stdout
    day = json.loads(records("--state-dir", str(directory), "--since", "1d", "--json").stdout)
    assert len(day["records"]) == 6
    future = json.loads(
        records("--state-dir", str(directory), "--since", "2099-01-01T00:00:00Z", "--json").stdout
    )
    assert future["records"] == [] and future["summary"] == []


def test_the_csv_is_a_trace_for_the_simulator(state: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    directory, _ = state
    done = records("--state-dir", str(directory), "--csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 7 and rows[1][0] == "0.000000"
    trace = tmp_path / "measured.csv"
    trace.write_text(done.stdout)
    simulated = subprocess.run(
        [*COLDLAB, "simulate", "--invocations", str(trace), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert simulated.returncode == 0, simulated.stderr
    totals = json.loads(simulated.stdout)["totals"]
    assert totals["arrivals"] == 6 and totals["served"] == 6


def test_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"garbage" * 100)
    for args, start in (
        (
            ["--state-dir", str(tmp_path)],
            f"coldlab: error: the state database {tmp_path / 'state.db'} is corrupt",
        ),
        (
            ["--state-dir", str(tmp_path / "none")],
            f"coldlab: error: no state database in {tmp_path / 'none'}",
        ),
        (["--json", "--csv"], "coldlab: error: --json and --csv cannot both be given"),
        (["--since", "soon"], "coldlab: error: --since 'soon' is neither a time nor a duration"),
    ):
        done = records(*args)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(start), done.stderr
