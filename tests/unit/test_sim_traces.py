"""Trace inputs: per-invocation CSV (streamed, errors with file/line/column), Azure 2019 files, placement
rules, synthetic patterns, distributions and the hybrid histogram policy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coldlab.errors import UsageError
from coldlab.sim.azure import read_azure_durations, read_azure_invocations, read_azure_memory
from coldlab.sim.azuregen import write_azure_day
from coldlab.sim.dists import Const, Exponential, Piecewise, parse_dist
from coldlab.sim.policies import HybridHistogram, HybridParams, PolicySpec
from coldlab.sim.traces import (
    MinuteCounts,
    Synthetic,
    invocation_functions,
    place_in_minutes,
    read_invocations,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_invocation_csv_streams_in_chunks(tmp_path: Path) -> None:
    rows = "\n".join(f"{i * 0.5},{10 + i}" for i in range(25))
    path = _write(tmp_path / "inv.csv", "timestamp,duration_ms\n" + rows + "\n")
    chunks = list(read_invocations(path, None, chunk=10))
    assert [len(a) for a, _ in chunks] == [10, 10, 5]
    assert chunks[0][1][0] == pytest.approx(0.010)
    assert chunks[2][0][-1] == pytest.approx(12.0)


def test_invocation_csv_functions_and_filter(tmp_path: Path) -> None:
    path = _write(tmp_path / "inv.csv", "timestamp,duration,function\n0,0.1,a\n1,0.2,b\n2,0.3,a\n")
    assert invocation_functions(path) == ["a", "b"]
    ((a, d),) = list(read_invocations(path, "a"))
    assert a.tolist() == [0.0, 2.0] and d.tolist() == [0.1, 0.3]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("time_x,dur\n1,2\n", r"inv\.csv:1: header .* lacks timestamp and duration"),
        ("timestamp,duration\n1,2\n2,abc\n", r"inv\.csv:3: column 'duration': not a number: 'abc'"),
        ("timestamp,duration\n1,2\nx,1\n", r"inv\.csv:3: column 'timestamp': not a number"),
        ("timestamp,duration\n1,-2\n", r"inv\.csv:2: column 'duration': duration must be >= 0"),
        ("timestamp,duration\n1,2,3\n", r"inv\.csv:2: .*expected 2 columns, got 3"),
        ("timestamp,duration\n5,1\n4,1\n", r"inv\.csv:3: column 'timestamp': timestamps go back in time"),
    ],
)
def test_malformed_invocation_csv_names_file_line_column(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path / "inv.csv", text)
    with pytest.raises(UsageError, match=pattern):
        list(read_invocations(path, None))


def test_azure_malformed_counts(tmp_path: Path) -> None:
    header = "HashOwner,HashApp,HashFunction,Trigger,1,2,3\n"
    neg = _write(tmp_path / "neg.csv", header + "o,a,f,http,1,-4,0\n")
    with pytest.raises(UsageError, match=r"neg\.csv:2: column '2': count must be >= 0, got '-4'"):
        list(read_azure_invocations(neg))
    text = _write(tmp_path / "txt.csv", header + "o,a,f,http,1,2,0\no,a,g,http,1,two,0\n")
    with pytest.raises(UsageError, match=r"txt\.csv:3: column '2': not a number: 'two'"):
        list(read_azure_invocations(text))
    wrong = _write(tmp_path / "wrong.csv", "Owner,App\nx,y\n")
    with pytest.raises(UsageError, match=r"wrong\.csv:1: header lacks HashOwner"):
        list(read_azure_invocations(wrong))


def test_generated_azure_day_round_trips(tmp_path: Path) -> None:
    inv, dur, mem = write_azure_day(tmp_path, apps=5, seed=3)
    rows = list(read_azure_invocations(inv))
    assert len(rows) >= 5 and all(len(r.counts) == 1440 for r in rows)
    durations = read_azure_durations(dur)
    memory = read_azure_memory(mem)
    assert (rows[0].owner, rows[0].app, rows[0].function) in durations
    assert (rows[0].owner, rows[0].app) in memory
    again, _, _ = write_azure_day(tmp_path / "b", apps=5, seed=3)
    assert again.read_text() == inv.read_text()  # seeded


def test_placement_rules() -> None:
    rng = np.random.default_rng(0)
    counts = np.array([0, 3, 1])
    eq = place_in_minutes(counts, "equidistant", rng)
    assert eq.tolist() == pytest.approx([70.0, 90.0, 110.0, 150.0])
    uni = place_in_minutes(counts, "uniform", rng)
    assert len(uni) == 4 and (np.diff(uni) >= 0).all()
    assert ((uni[:3] >= 60) & (uni[:3] < 120)).all() and 120 <= uni[3] < 180
    many = place_in_minutes(np.full(1000, 10), "poisson", np.random.default_rng(1))
    assert len(many) != 10_000 and abs(len(many) - 10_000) < 500  # counts vary like Poisson(10)
    with pytest.raises(UsageError, match="unknown placement"):
        place_in_minutes(counts, "gaussian", rng)


def test_minute_counts_chunk_deterministically() -> None:
    src = MinuteCounts(tuple([5] * 30), Const(0.1), "uniform")
    a1 = np.concatenate([a for a, _ in src.chunks(np.random.default_rng(4))])
    a2 = np.concatenate([a for a, _ in src.chunks(np.random.default_rng(4))])
    assert len(a1) == 150 and (a1 == a2).all()


@pytest.mark.parametrize("pattern", ["steady", "bursty", "diurnal", "spike", "cron"])
def test_synthetic_patterns_have_the_mean_rate(pattern: str) -> None:
    horizon = 86400.0 if pattern == "diurnal" else 20000.0
    src = Synthetic(pattern, 0.5, horizon, Exponential(0.1))
    arrivals = np.concatenate([a for a, _ in src.chunks(np.random.default_rng(2))])
    assert (np.diff(arrivals) >= 0).all() and arrivals.max() < horizon
    expected = 0.5 * horizon + (0.5 * 20 * 60 if pattern == "spike" else 0)
    assert len(arrivals) == pytest.approx(expected, rel=0.15)
    if pattern == "cron":
        assert np.allclose(np.diff(arrivals), 2.0)


def test_distribution_specs(tmp_path: Path) -> None:
    assert parse_dist("const:250", scale=0.001).mean() == pytest.approx(0.25)
    assert parse_dist("exp:100", scale=0.001).mean() == pytest.approx(0.1)
    assert parse_dist("uniform:300,420").mean() == 360
    assert parse_dist("lognormal:0,1", scale=0.001).mean() == pytest.approx(np.exp(0.5) / 1000)
    doc = {
        "schema": "coldlab.invoke/1",
        "invocations": [{"init_duration_ms": 40.0}, {"init_duration_ms": None}, {"init_duration_ms": 60.0}],
    }
    measured = _write(tmp_path / "m.json", json.dumps(doc))
    dist = parse_dist(f"empirical:{measured}", scale=0.001)
    assert dist.mean() == pytest.approx(0.05)
    assert set(dist.sample(np.random.default_rng(0), 50).tolist()) == {0.04, 0.06}
    for bad in ("exp:-1", "uniform:5,1", "wat:1", "exp:x"):
        with pytest.raises(UsageError):
            parse_dist(bad)
    pw = Piecewise((0.0, 0.5, 1.0), (1.0, 2.0, 4.0))
    assert np.median(pw.sample(np.random.default_rng(0), 20001)) == pytest.approx(2.0, rel=0.02)


def test_hybrid_histogram_windows() -> None:
    policy = HybridHistogram(HybridParams())
    assert policy.windows(np.random.default_rng(0)) == (0.0, 4 * 3600.0)  # no data: keep for the range
    for _ in range(100):
        policy.record_gap(30 * 60 + 10)  # always ~30 min apart: a clear pattern
    assert policy.pattern() == "representative"
    prewarm, keep = policy.windows(np.random.default_rng(0))
    assert prewarm == pytest.approx(30 * 60 * 0.9)  # head bin 30, minus 10%
    assert prewarm + keep == pytest.approx(31 * 60 * 1.1)  # tail bin 30 rounded up (31 min), plus 10%
    oob = HybridHistogram(HybridParams())
    for _ in range(10):
        oob.record_gap(6 * 3600)
    assert oob.pattern() == "out-of-bounds"
    prewarm, keep = oob.windows(np.random.default_rng(0))
    assert prewarm == pytest.approx(6 * 3600 * 0.85) and keep == pytest.approx(2 * 0.15 * 6 * 3600)
    assert PolicySpec("none").build().windows(np.random.default_rng(0)) == (0.0, 0.0)
    fixed = PolicySpec("fixed", "uniform:300,420").build()
    assert fixed.constant_keepalive() is None
    assert 300 <= fixed.windows(np.random.default_rng(0))[1] <= 420


def test_multi_function_csv_is_split_in_one_pass(tmp_path: Path) -> None:
    from coldlab.sim.traces import partition_invocations, read_partition
    from coldlab.sim.workload import invocation_jobs

    rows = "".join(f"{i},{i % 7},{'ab'[i % 2]}\n" for i in range(50))
    path = _write(tmp_path / "inv.csv", "timestamp,duration_ms,function\n" + rows)
    parts = partition_invocations(path, tmp_path, flush=4)
    assert set(parts) == {"a", "b"}
    ((a_t, a_d),) = list(read_partition(parts["a"], chunk=100))
    assert a_t.tolist() == [float(i) for i in range(0, 50, 2)]
    assert a_d.tolist() == pytest.approx([(i % 7) / 1000 for i in range(0, 50, 2)])
    assert [len(t) for t, _ in read_partition(parts["b"], chunk=10)] == [10, 10, 5]
    work = tmp_path / "work"
    work.mkdir()
    jobs = invocation_jobs(path, work)
    streamed = [np.concatenate([t for t, _ in j.source.chunks(np.random.default_rng(0))]) for j in jobs]
    assert [len(x) for x in streamed] == [25, 25]
    # a function going back in time is an error even when rows of functions interleave
    bad = _write(tmp_path / "bad.csv", "timestamp,duration,function\n5,1,a\n1,1,b\n4,1,a\n")
    with pytest.raises(UsageError, match=r"bad\.csv:4: column 'timestamp': timestamps go back"):
        partition_invocations(bad, tmp_path)
