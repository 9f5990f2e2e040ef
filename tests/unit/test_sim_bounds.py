"""Simulator inputs never reach `internal error`, and work is bounded before anything is allocated (issue 11
items 6 and 7): file checks, per-cell bounds, busy minutes in pieces, timelines that coarsen, the work
estimate, kernels whose memory does not grow with the requests, a pool that does not read ahead."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from coldlab.errors import UsageError
from coldlab.sim import runner
from coldlab.sim.bounds import MAX_REQUESTS, Work, check_work
from coldlab.sim.cloudrun import CloudRunKernel, CloudRunModel
from coldlab.sim.dists import Const, check_bound, load_empirical, parse_dist
from coldlab.sim.metrics import MAX_TIMELINE_BINS, Timeline
from coldlab.sim.runner import FunctionJob, RunConfig, run_jobs
from coldlab.sim.traces import CHUNK, MinuteCounts, Synthetic, read_invocations
from coldlab.sim.workload import AzureInput, azure_jobs


def _csv(tmp: Path, body: bytes, name: str = "inv.csv") -> Path:
    path = tmp / name
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"timestamp,duration_ms\n1,5\n\xff\xfe,6\n", r"inv\.csv:3:1: column 'timestamp': not UTF-8 text"),
        (b"timestamp,duration_ms\n1,5\n2,6\x00\n", r"inv\.csv:3:4: column 'duration_ms': binary data"),
        (
            b"timestamp,duration_ms\n1," + b"9" * 200_000 + b"\n",
            r"inv\.csv:2: column 'duration_ms': line longer",
        ),
        (
            b"timestamp,duration_ms\n1,1e14\n",
            r"inv\.csv:2: column 'duration_ms': duration 1e14 is over the bound",
        ),
        (b"timestamp,duration_ms\n1e12,5\n", r"inv\.csv:2: column 'timestamp': timestamp \(s\) 1e12 is over"),
        (b"timestamp,duration_ms\nnan,5\n", r"inv\.csv:2: column 'timestamp': timestamp \(s\) must be >= 0"),
        (b"timestamp,duration_ms\n1,1e400\n", r"inv\.csv:2: column 'duration_ms': duration must be >= 0"),
        (b"timestamp,duration_ms\n1,a\rb\n", r"inv\.csv:2: column 'duration_ms': not CSV"),
        (b"\xfd7zXZ\x00\x00rest", r"inv\.csv:1: xz-compressed, not CSV text"),
        (b"PK\x03\x04rest", r"inv\.csv:1: a zip archive"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00damaged", r"inv\.csv:1: gzip data damaged or truncated"),
        (b"", r"inv\.csv:1: empty file"),
    ],
)
def test_bad_invocation_files_are_one_usage_error(tmp_path: Path, body: bytes, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        list(read_invocations(_csv(tmp_path, body), None))


def test_gzip_is_read_transparently_and_a_cut_gzip_is_named(tmp_path: Path) -> None:
    text = b"timestamp,duration_ms\n" + b"".join(b"%d,5\n" % i for i in range(5000))
    plain = [a.tolist() for a, _ in read_invocations(_csv(tmp_path, text), None)]
    packed = gzip.compress(text)
    unpacked = [a.tolist() for a, _ in read_invocations(_csv(tmp_path, packed, "inv.csv.gz"), None)]
    assert unpacked == plain and len(plain[0]) == 5000
    with pytest.raises(UsageError, match=r"inv\.csv:\d+: gzip data damaged or truncated"):
        list(read_invocations(_csv(tmp_path, packed[: len(packed) // 2]), None))


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "trace.csv"
    os.mkfifo(fifo)  # open() without O_NONBLOCK would wait for a writer
    with pytest.raises(UsageError, match="not a regular file"):
        list(read_invocations(fifo, None))


def test_azure_cells_are_bounded(tmp_path: Path) -> None:
    head = b"HashOwner,HashApp,HashFunction,Trigger,1,2\n"
    huge = _csv(tmp_path, head + b"o,a,f,http,1,99999999999999999999999\n")
    with pytest.raises(UsageError, match=r"inv\.csv:2: column '2': count 9+ is over the bound"):
        list(azure_jobs(AzureInput(huge), Const(0.1)))
    durations = head.split(b",1,")[0] + b",percentile_Average_0,percentile_Average_1,percentile_Average_25,"
    durations += b"percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100\n"
    bad = _csv(tmp_path, durations + b"o,a,f,http,1,2,3,nan,5,6,7\n", "dur.csv")
    with pytest.raises(
        UsageError, match=r"dur\.csv:2: column 'percentile_Average_50': duration \(ms\) must be"
    ):
        list(azure_jobs(AzureInput(huge, durations=bad), Const(0.1)))


def test_azure_work_is_counted_as_the_file_streams(tmp_path: Path) -> None:
    head = b"HashOwner,HashApp,HashFunction,Trigger,1\n"
    rows = b"".join(b"o,a,f%d,http,%d\n" % (i, MAX_REQUESTS // 3) for i in range(5))
    path = _csv(tmp_path, head + rows)
    jobs = azure_jobs(AzureInput(path), Const(0.1))
    assert [next(jobs).name for _ in range(3)] == ["f0", "f1", "f2"]
    with pytest.raises(UsageError, match=r"the first 4 functions already hold 1\.33e\+08 requests"):
        next(jobs)
    assert len(list(azure_jobs(AzureInput(path), Const(0.1), force=True))) == 5


@pytest.mark.parametrize("rule", ["uniform", "poisson", "equidistant"])
def test_a_minute_busier_than_a_chunk_comes_in_pieces(rule: str) -> None:
    count = 3 * CHUNK + 17
    source = MinuteCounts((2, count, 1), Const(0.01), rule)
    chunks = [a for a, _ in source.chunks(np.random.default_rng(7))]
    assert max(len(a) for a in chunks) <= CHUNK
    times = np.concatenate(chunks)
    assert (np.diff(times) >= 0).all()
    busy = times[(times >= 60) & (times < 120)]
    if rule == "poisson":
        assert abs(len(busy) - count) < 5 * np.sqrt(count)
    else:
        assert len(busy) == count
    assert len(times) - len(busy) == 3


def test_timeline_coarsens_instead_of_growing_without_bound() -> None:
    t = Timeline(60.0)
    t.add_events(np.array([30.0, 90.0]))
    t.add_intervals(np.array([0.0]), np.array([120.0]))
    far = 60.0 * MAX_TIMELINE_BINS * 5.5
    t.add_events(np.array([far]))
    t.add_intervals(np.array([far - 10]), np.array([far]))
    assert len(t.cold) <= MAX_TIMELINE_BINS
    assert t.bin_s == 60.0 * 8 and t.requested_bin_s == 60.0
    assert int(t.cold.sum()) == 3 and float(t.env_seconds.sum()) == pytest.approx(130.0)
    fine = Timeline(60.0)
    fine.add_events(np.array([61.0]))
    fine.merge(t)  # merging takes the coarser width
    assert fine.bin_s == t.bin_s and int(fine.cold.sum()) == 4
    huge = Timeline(60.0)
    huge.add_events(np.array([1.0, 1e300]))  # collapses into very wide bins, never a huge array
    assert len(huge.cold) <= MAX_TIMELINE_BINS and int(huge.cold.sum()) == 2


def test_work_beyond_the_bound_is_refused_unless_forced() -> None:
    work = Work(3.6e12, 1, "--rate 1e+09/s x --horizon 3600 s")
    with pytest.raises(UsageError) as caught:
        check_work(work, force=False)
    text = str(caught.value)
    assert "about 3.6e+12 requests" in text and "bound of 1e+08 requests" in text and "--force" in text
    check_work(work, force=True)
    check_work(Work(MAX_REQUESTS), force=False)


def test_distributions_are_bounded_and_lognormal_parameters_checked(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--duration: exponential mean 1e\+11 s is beyond the bound"):
        check_bound(parse_dist("exp:1e14", scale=0.001), "--duration", 86400.0)
    with pytest.raises(UsageError, match="SIGMA finite and >= 0"):
        parse_dist("lognormal:1,-2")
    with pytest.raises(UsageError, match="SIGMA finite"):
        parse_dist("lognormal:nan,1")
    check_bound(parse_dist("lognormal:-0.38,2.36"), "--duration", 86400.0, unit_scale=1.0)  # Azure fit
    values = tmp_path / "values.json"
    values.write_bytes(gzip.compress(b"[1, 2, 3]"))
    assert load_empirical(values).values == (0.001, 0.002, 0.003)
    values.write_bytes(b'{"values_ms": [1, Infinity]}')
    with pytest.raises(UsageError, match=r"values\.json:1: needs a list"):
        load_empirical(values)
    values.write_bytes(b"[1,\n 2\xff]")
    with pytest.raises(UsageError, match=r"values\.json:2:3: not UTF-8 text"):
        load_empirical(values)


def test_cloud_run_latencies_are_folded_per_chunk() -> None:
    kernel = CloudRunKernel(CloudRunModel(concurrency=10), name="f", app="f", bin_s=60.0, penalty_mean=0.1)
    arrivals = np.arange(0.0, 100.0, 0.01)
    kernel.feed(arrivals, np.full(len(arrivals), 0.005), np.zeros(len(arrivals)))
    assert kernel.lat == [] and kernel.cold_times == []  # nothing per request is kept between chunks
    result, latency, _ = kernel.finish(100.0)
    assert int(latency.sum()) == result.served == len(arrivals)


def test_the_pool_reads_a_streamed_trace_only_a_little_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    pulled = [0]
    ahead: list[int] = []

    def jobs() -> object:
        for i in range(60):
            pulled[0] += 1
            source = Synthetic("cron", 1.0, 5.0, Const(0.01))
            yield FunctionJob(i, f"f{i}", "a", None, source, 5.0)

    done = [0]

    def progress(_result: object) -> None:
        done[0] += 1
        ahead.append(pulled[0] - done[0])

    totals = run_jobs(jobs(), RunConfig(), workers=2, progress=progress)  # type: ignore[arg-type]
    assert len(totals.functions) == 60
    assert max(ahead) <= runner.IN_FLIGHT_PER_WORKER * 2 + 4  # read-ahead bound, plus one chunk of 4
