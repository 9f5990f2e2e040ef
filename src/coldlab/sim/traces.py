"""Where arrivals come from: synthetic patterns, the Azure Functions 2019 per-minute trace, and a
per-invocation CSV. Every source yields (arrival times s, service times s) in chunks, so large inputs stream.

A source is a small picklable recipe; `chunks(rng)` regenerates the same arrivals for the same seed, which
is how a function can be re-run by the event kernel if the fast path declines it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coldlab.errors import UsageError
from coldlab.sim.bounds import MAX_DURATION_S, MAX_TIMESTAMP_S
from coldlab.sim.dists import Dist, FloatArray
from coldlab.sim.textfile import CsvRows

CHUNK = 65_536  # arrivals per chunk handed to a model (small chunks stay in cache: faster fast path)
PATTERNS = ("steady", "bursty", "diurnal", "spike", "cron")
PLACEMENTS = ("uniform", "poisson", "equidistant")
DAY_S = 86400.0


@dataclass(frozen=True)
class Synthetic:
    """`rate` is the mean arrival rate (req/s) over the horizon for every pattern.

    steady: Poisson. bursty: on/off (on ~ exp 60 s at 5x rate, off ~ exp 240 s silent). diurnal: rate
    (0.5 + 0.5*(1 - cos(2 pi t / day))) * rate, i.e. half of it a constant baseline. spike: steady plus
    `spike_factor` x rate for 60 s in the middle of the horizon. cron: exactly every 1/rate seconds.
    """

    pattern: str
    rate: float
    horizon_s: float
    duration: Dist
    spike_factor: float = 20.0

    def chunks(self, rng: np.random.Generator) -> Iterator[tuple[FloatArray, FloatArray]]:
        if self.pattern == "cron":
            period = 1.0 / self.rate
            total = math.floor(self.horizon_s / period + 1e-9)
            for lo in range(0, total, CHUNK):
                arrivals = np.arange(lo, min(total, lo + CHUNK), dtype=np.float64) * period
                yield arrivals, self.duration.sample(rng, len(arrivals))
            return
        per_s = max(self.rate * self._peak(), 1e-9)
        # about CHUNK arrivals per block: at least a second, unless the rate is above CHUNK per second
        block = min(self.horizon_s, CHUNK / per_s)
        if per_s <= CHUNK:
            block = max(1.0, block)
        t0 = 0.0
        on_state = [True, 0.0]  # bursty: current state and when it ends
        while t0 < self.horizon_s:
            t1 = min(self.horizon_s, t0 + block)
            arrivals = self._block(rng, t0, t1, on_state)
            if len(arrivals):
                yield arrivals, self.duration.sample(rng, len(arrivals))
            t0 = t1

    def _peak(self) -> float:
        return {"steady": 1.0, "bursty": 5.0, "diurnal": 1.0, "spike": self.spike_factor}.get(
            self.pattern, 1.0
        )

    def _poisson(self, rng: np.random.Generator, rate: float, t0: float, t1: float) -> FloatArray:
        count = rng.poisson(rate * (t1 - t0))
        return np.sort(rng.uniform(t0, t1, count))

    def _block(
        self, rng: np.random.Generator, t0: float, t1: float, on_state: list[float | bool]
    ) -> FloatArray:
        if self.pattern == "steady":
            return self._poisson(rng, self.rate, t0, t1)
        if self.pattern == "diurnal":
            candidates = self._poisson(rng, self.rate * 1.5, t0, t1)  # thinning from the peak rate
            level = 0.5 + 0.5 * (1 - np.cos(2 * np.pi * candidates / DAY_S))
            keep = rng.random(len(candidates)) * 1.5 < level
            return candidates[keep]
        if self.pattern == "spike":
            base = self._poisson(rng, self.rate, t0, t1)
            s0 = self.horizon_s / 2
            lo, hi = max(t0, s0), min(t1, s0 + 60.0)
            if hi > lo:
                extra = self._poisson(rng, self.rate * self.spike_factor, lo, hi)
                return np.sort(np.concatenate([base, extra]))
            return base
        if self.pattern == "bursty":
            parts = []
            t = t0
            while t < t1:
                on, until = bool(on_state[0]), float(on_state[1])
                if until <= t:
                    on = not on if until > 0 else True
                    until = t + rng.exponential(60.0 if on else 240.0)
                    on_state[0], on_state[1] = on, until
                end = min(t1, until)
                if on:
                    parts.append(self._poisson(rng, self.rate * 5.0, t, end))
                t = end
            return np.concatenate(parts) if parts else np.zeros(0)
        raise UsageError(f"unknown pattern {self.pattern!r}", f"use one of: {', '.join(PATTERNS)}")

    def describe(self) -> str:
        return f"{self.pattern} at {self.rate:g} req/s for {self.horizon_s:g} s"


def place_in_minutes(counts: np.ndarray, rule: str, rng: np.random.Generator, minute0: int = 0) -> FloatArray:
    """Arrival times for per-minute counts. uniform: the count, at uniform random instants (a Poisson
    process conditioned on the count); poisson: a Poisson process at the minute's rate (the count varies);
    equidistant: evenly spaced at (i + 0.5) / count of the minute."""
    counts = np.asarray(counts, np.int64)
    if rule == "poisson":
        counts = rng.poisson(counts)
    total = int(counts.sum())
    starts = (np.arange(len(counts)) + minute0) * 60.0
    base = np.repeat(starts, counts)
    if rule == "equidistant":
        first = np.repeat(np.cumsum(counts) - counts, counts)
        index = np.arange(total) - first
        per = np.repeat(counts, counts)
        spaced: FloatArray = base + (index + 0.5) / np.maximum(per, 1) * 60.0
        return spaced
    if rule not in ("uniform", "poisson"):
        raise UsageError(f"unknown placement {rule!r}", f"use one of: {', '.join(PLACEMENTS)}")
    placed: FloatArray = np.sort(base + rng.random(total) * 60.0)
    return placed


@dataclass(frozen=True)
class MinuteCounts:
    """One Azure 2019 function: invocation counts per minute and its duration distribution."""

    counts: tuple[int, ...]
    duration: Dist
    placement: str = "uniform"

    def chunks(self, rng: np.random.Generator) -> Iterator[tuple[FloatArray, FloatArray]]:
        counts = np.asarray(self.counts, np.int64)
        minute = 0
        while minute < len(counts):
            if counts[minute] > CHUNK:  # one minute busier than a chunk: in pieces, so memory stays bounded
                for arrivals in _busy_minute(int(counts[minute]), minute, self.placement, rng):
                    yield arrivals, self.duration.sample(rng, len(arrivals))
                minute += 1
                continue
            # as many whole minutes as fit in one chunk (at least one)
            cum = np.cumsum(counts[minute:])
            span = max(1, int(np.searchsorted(cum, CHUNK, side="right")))
            arrivals = place_in_minutes(counts[minute : minute + span], self.placement, rng, minute)
            if len(arrivals):
                yield arrivals, self.duration.sample(rng, len(arrivals))
            minute += span


def _busy_minute(count: int, minute: int, rule: str, rng: np.random.Generator) -> Iterator[FloatArray]:
    """The arrivals of one minute with more than CHUNK requests, in time order, CHUNK at a time. The same
    laws as place_in_minutes: uniform instants given the count (split over equal slices by a multinomial
    draw, then uniform inside each slice), a Poisson count first for `poisson`, or evenly spaced."""
    t0 = minute * 60.0
    if rule == "equidistant":
        for lo in range(0, count, CHUNK):
            index = np.arange(lo, min(count, lo + CHUNK), dtype=np.float64)
            yield t0 + (index + 0.5) / count * 60.0
        return
    if rule not in ("uniform", "poisson"):
        raise UsageError(f"unknown placement {rule!r}", f"use one of: {', '.join(PLACEMENTS)}")
    if rule == "poisson":
        count = int(rng.poisson(count))
    slices = -(-count // CHUNK)
    width = 60.0 / slices
    per_slice = rng.multinomial(count, np.full(slices, 1.0 / slices))
    for k, n in enumerate(per_slice.tolist()):
        if n:
            yield np.sort(t0 + (k + rng.random(n)) * width)


@dataclass(frozen=True)
class InvocationFile:
    """Per-invocation rows of one function, from a CSV: timestamps (s) and durations (s)."""

    path: str
    function: str | None  # None: every row (no function column)
    partition: str | None = None  # this function's rows, split out by `partition_invocations`

    def chunks(self, rng: np.random.Generator) -> Iterator[tuple[FloatArray, FloatArray]]:
        if self.partition is not None:
            yield from read_partition(Path(self.partition))
        else:
            yield from read_invocations(Path(self.path), self.function)


# ---------------------------------------------------------------------------------------------- CSV


def csv_error(path: Path, line: int, column: str, message: str) -> UsageError:
    return UsageError(f"{path}:{line}: column {column!r}: {message}", "fix the row or regenerate the trace")


def check_width(path: Path, line: int, header: list[str], row: list[str]) -> None:
    """A row must have as many cells as the header."""
    if len(row) != len(header):
        column = header[min(len(row), len(header) - 1)]
        raise csv_error(path, line, column, f"expected {len(header)} columns, got {len(row)}")


def open_csv(path: Path) -> tuple[Iterator[tuple[int, list[str]]], list[str]]:
    """(rows as (line number, cells), header); any bytes at all give rows or one UsageError."""
    rows = CsvRows(path)
    return iter(rows), rows.header


def csv_header(path: Path) -> list[str]:
    with CsvRows(path) as rows:
        return rows.header


def number(path: Path, line: int, column: str, cell: str, *, limit: float, what: str) -> float:
    """A finite number in [0, limit]: anything else is refused with the file, line and column."""
    try:
        value = float(cell)
    except ValueError:
        raise csv_error(path, line, column, f"not a number: {cell[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise csv_error(path, line, column, f"{what} must be >= 0, got {cell[:40]!r}")
    if value > limit:
        raise csv_error(path, line, column, f"{what} {cell[:40]} is over the bound of {limit:.12g}")
    return value


def invocation_columns(path: Path) -> tuple[int, int, float, int | None]:
    """(timestamp column, duration column, duration scale to seconds, function column or None)."""
    header = csv_header(path)
    lower = [h.lower() for h in header]

    def find(*names: str) -> int | None:
        for name in names:
            if name in lower:
                return lower.index(name)
        return None

    ts = find("timestamp", "time", "ts", "start")
    dur_s = find("duration", "duration_s")
    dur_ms = find("duration_ms")
    fn = find("function", "func", "function_name")
    if ts is None or (dur_s is None and dur_ms is None):
        raise UsageError(
            f"{path}:1: header {','.join(header)!r} lacks timestamp and duration columns",
            "expected columns: timestamp (s), duration (s) or duration_ms, optional function",
        )
    if dur_s is not None:
        return ts, dur_s, 1.0, fn
    assert dur_ms is not None
    return ts, dur_ms, 0.001, fn


def _rows(path: Path) -> Iterator[tuple[str | None, float, float]]:
    """Validated (function, timestamp s, duration s) rows, streamed; errors name the file, line and column.
    Timestamps must not go back in time within a function; values are bounded (coldlab.sim.bounds)."""
    ts_col, dur_col, scale, fn_col = invocation_columns(path)
    reader, header = open_csv(path)
    last: dict[str | None, float] = {}
    ts_name, dur_name = header[ts_col], header[dur_col]
    for line, row in reader:
        if not row:
            continue
        check_width(path, line, header, row)
        fn = row[fn_col] if fn_col is not None else None
        t = number(path, line, ts_name, row[ts_col], limit=MAX_TIMESTAMP_S, what="timestamp (s)")
        d = number(path, line, dur_name, row[dur_col], limit=MAX_DURATION_S / scale, what="duration") * scale
        if t < last.get(fn, -math.inf):
            raise csv_error(path, line, ts_name, "timestamps go back in time; sort the file by time")
        last[fn] = t
        yield fn, t, d


def read_invocations(
    path: Path, function: str | None, chunk: int = CHUNK
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Stream one function's rows (all rows when `function` is None) in chunks."""
    times: list[float] = []
    durations: list[float] = []
    for fn, t, d in _rows(path):
        if function is not None and fn != function:
            continue
        times.append(t)
        durations.append(d)
        if len(times) >= chunk:
            yield np.asarray(times), np.asarray(durations)
            times, durations = [], []
    if times:
        yield np.asarray(times), np.asarray(durations)


def partition_invocations(path: Path, directory: Path, flush: int = CHUNK) -> dict[str | None, Path]:
    """One streaming pass over a multi-function CSV: each function's (timestamp, duration) pairs go to its
    own binary file of float64, so each function can then be streamed without rereading the CSV."""
    buffers: dict[str | None, list[float]] = {}
    files: dict[str | None, Path] = {}

    def spill(fn: str | None) -> None:
        with files[fn].open("ab") as out:
            np.asarray(buffers[fn], np.float64).tofile(out)
        buffers[fn] = []

    for fn, t, d in _rows(path):
        if fn not in buffers:
            buffers[fn] = []
            files[fn] = directory / f"fn{len(files):06d}.f64"
        buf = buffers[fn]
        buf += (t, d)
        if len(buf) >= 2 * flush:
            spill(fn)
    for fn in files:
        spill(fn)
    return files


def read_partition(path: Path, chunk: int = CHUNK) -> Iterator[tuple[FloatArray, FloatArray]]:
    with path.open("rb") as handle:
        while True:
            pairs = np.fromfile(handle, dtype=np.float64, count=2 * chunk)
            if len(pairs) == 0:
                return
            yield pairs[0::2].copy(), pairs[1::2].copy()


def invocation_functions(path: Path) -> list[str | None]:
    """The function names in a per-invocation CSV, in order of first appearance (streamed)."""
    _, _, _, fn_col = invocation_columns(path)
    if fn_col is None:
        return [None]
    reader, _ = open_csv(path)
    seen: dict[str, None] = {}
    for _, row in reader:
        if len(row) > fn_col:
            seen.setdefault(row[fn_col], None)
    return list(seen) or [None]
