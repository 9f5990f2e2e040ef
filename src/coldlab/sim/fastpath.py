"""An exact vectorised path for Lambda functions under a constant keep-alive with most-recently-idle routing.

Why it is exact: with a LIFO pool of idle environments, the idle environment k-th from the top is the one
freed when the in-flight count last fell from c+k to c+k-1 (c = in-flight now). So an arrival that lifts the
in-flight count from j-1 to j reuses the environment freed at the last drop from level j, and is a cold start
iff that drop is more than T ago (or never happened). Environments never need identities; only the count
path does. A cold start lengthens its request (the penalty), which moves departures, so the cold set is
iterated to a fixed point; the fixed point equals the event-driven run (induction over time: each request's
status depends only on earlier ones).

It declines (FastPathUnavailableError) when it would not be exact: provisioned concurrency, recycling, a
non-constant keep-alive, `newest` routing, the concurrency limit or the scaling token bucket being reached.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from coldlab.sim.dists import FloatArray
from coldlab.sim.lambda_des import LambdaModel, _billed_ms
from coldlab.sim.metrics import N_LAT_BINS, FunctionResult, IntArray, Timeline, latency_histogram
from coldlab.sim.policies import KeepAlive


class FastPathUnavailableError(Exception):
    """The fast path would not be exact for this function; use the event-driven kernel."""


def fast_path_possible(model: LambdaModel, policy: KeepAlive) -> bool:
    return (
        model.provisioned == 0
        and model.recycle_s is None
        and model.routing == "mru"
        and policy.constant_keepalive() is not None
    )


class LambdaFastPath:
    """Chunk-fed like the kernel. Starts in *busy* mode: the cheapest exact case, where no environment ever
    idles longer than T, checked with windows of T/2 (every level reached so far is reached again in every
    window, so every idle gap is <= T); cold starts are then exactly the arrivals that reach a new peak
    level. The first chunk that fails the check switches to the general level-matching mode for good."""

    def __init__(self, model: LambdaModel, policy: KeepAlive, *, name: str, app: str, bin_s: float) -> None:
        if not fast_path_possible(model, policy):
            raise FastPathUnavailableError("configuration needs the event kernel")
        keep = policy.constant_keepalive()
        assert keep is not None
        self.keep = keep
        self.m = model
        self.result = FunctionResult(name=name, app=app, memory_mb=model.memory_mb, fast_path=True)
        self.timeline = Timeline(bin_s)
        self.latency: IntArray = np.zeros(N_LAT_BINS, np.int64)
        self.pending: FloatArray = np.zeros(0)  # departures after the last committed arrival (sorted)
        self.last_drop: FloatArray = np.zeros(0)  # per level (index j-1): last time the count fell from j
        self.created: list[float] = []  # busy mode: when each level's environment was created
        self.levels_seen = 0
        self.tokens = float(model.burst)
        self.token_t = 0.0
        self.last_end = 0.0
        self.busy_mode = keep > 0
        self.window = keep / 2.0
        self.win_index = -1  # busy mode: the last (incomplete) window and its partial maximum
        self.win_max = 0
        self.runmax_before = 0  # peak level at the end of window win_index - 1
        self.t_last = -math.inf  # last committed arrival
        self.clip_from = -math.inf  # general mode: the timeline before this was drawn by busy mode
        self.busy_chunks = 0
        self.t_prev_commit: float | None = None  # busy mode: the timeline is drawn up to here

    # -- common ----------------------------------------------------------------------------------------

    def feed(self, arrivals: FloatArray, service: FloatArray, penalty: FloatArray) -> None:
        if len(arrivals) == 0:
            return
        if float(np.min(service)) <= 0:
            raise FastPathUnavailableError("zero service times need the event kernel's ordering")
        if self.busy_mode and self._feed_busy(arrivals, service, penalty):
            self.busy_chunks += 1
            return
        if self.busy_mode:
            self._switch_to_general()
        self._feed_general(arrivals, service, penalty)

    def _grow_levels(self, top: int) -> None:
        if top > len(self.last_drop):
            self.last_drop = np.concatenate([self.last_drop, np.full(top - len(self.last_drop), -math.inf)])

    def _check_limits(self, cold_times: FloatArray, peak: int) -> float:
        """Raise if a limit binds; return the token count after these cold starts (commit separately)."""
        if peak > self.m.concurrency_limit:
            raise FastPathUnavailableError("concurrency limit reached")
        if len(cold_times) == 0:
            return self.tokens
        rate = self.m.burst / self.m.burst_window_s
        cap = float(self.m.burst)
        x = rate * cold_times - np.arange(len(cold_times))
        from_start = self.tokens - rate * self.token_t + x
        from_full = cap + x - np.maximum.accumulate(x)
        tokens = np.minimum(from_start, from_full)
        if float(tokens.min()) < 1.0 - 1e-9:
            raise FastPathUnavailableError("scaling limit reached")
        return float(tokens[-1]) - 1.0

    def _account(
        self, a: FloatArray, s: FloatArray, p: FloatArray, *, cold: np.ndarray, dep: FloatArray, tokens: float
    ) -> FloatArray:
        res = self.result
        if cold.any():
            self.tokens = tokens
            self.token_t = float(a[cold][-1])
        latency = s + np.where(cold, p, 0.0)
        res.arrivals += len(a)
        res.served += len(a)
        ncold = int(cold.sum())
        res.cold_starts += ncold
        res.envs_created += ncold
        res.busy_s += float(latency.sum())
        res.billed_ms += _billed_ms(s)
        if self.m.init_billed:
            res.billed_init_ms += _billed_ms(p[cold & (p > 0)])
        self.last_end = max(self.last_end, float(dep.max()))
        lat = latency_histogram(latency)
        self.latency += lat
        self.timeline.add_events(a[cold])
        self.t_last = float(a[-1])
        return latency

    # -- busy mode --------------------------------------------------------------------------------------

    def _feed_busy(self, a: FloatArray, s: FloatArray, p: FloatArray) -> bool:
        n, c0 = len(a), len(self.pending)
        cold = np.zeros(n, bool)
        ramp = np.arange(1, n + 1)
        for _ in range(64):
            dep = a + (s + np.where(cold, p, 0.0))  # same rounding as the kernel
            dep_all = np.sort(np.concatenate([self.pending, dep]), kind="stable")
            level = c0 + ramp - np.searchsorted(dep_all, a, side="right")
            before = np.maximum.accumulate(np.concatenate([[self.levels_seen], level[:-1]]))
            new_cold = level > before
            if np.array_equal(new_cold, cold):
                break
            cold = new_cold
        else:  # pragma: no cover
            return False
        if not self._windows_ok(a, level, dep_all, c0):
            return False
        peak = max(self.levels_seen, int(level.max()))
        tokens = self._check_limits(a[cold], peak)
        # commit
        res = self.result
        latency = self._account(a, s, p, cold=cold, dep=dep, tokens=tokens)
        last_arrival = float(a[-1])
        committed = dep_all[dep_all <= last_arrival]
        k = np.arange(len(committed))
        d_level = c0 + np.searchsorted(a, committed, side="left") - k  # the level each departure falls from
        u_before = self._unpaired_sum(c0)
        self._grow_levels(peak)
        if len(committed):
            np.maximum.at(self.last_drop, d_level - 1, committed)
        self.pending = dep_all[dep_all > last_arrival]
        u_after = self._unpaired_sum(len(self.pending), top=peak)
        warm_sum = float(a[~cold].sum())
        res.env_s += float(latency.sum()) + warm_sum - (u_before + float(committed.sum()) - u_after)
        res.peak_inflight = max(res.peak_inflight, peak)
        # timeline: no environment has expired, so the environments alive are the peak level so far
        t_prev = self.t_prev_commit if self.t_prev_commit is not None else float(a[0])
        self.created.extend(a[cold].tolist())
        created = np.asarray(self.created)
        self.timeline.add_intervals(np.maximum(created, t_prev), np.full(len(created), last_arrival))
        self.t_prev_commit = last_arrival
        self.levels_seen = peak
        return True

    def _unpaired_sum(self, busy_levels: int, top: int | None = None) -> float:
        """Sum of last-drop times of the idle levels (above the in-flight count): drops not yet followed
        by a rise, whose idle time is counted when the rise (or expiry) comes."""
        top = self.levels_seen if top is None else top
        if top <= busy_levels:
            return 0.0
        return float(self.last_drop[busy_levels:top].sum())

    def _windows_ok(self, a: FloatArray, level: IntArray, dep_all: FloatArray, c0: int) -> bool:
        """Every complete window of T/2 reaches the peak level of all earlier windows."""
        w = self.window
        first, last = int(a[0] // w), int(a[-1] // w)
        start = self.win_index if self.win_index >= 0 else first
        if last - start > len(a) + 1000:
            return False  # sparse traffic: windows with nothing in them; not a busy function
        wins = np.arange(start, last + 1)
        edges = wins * w
        at_start = c0 + np.searchsorted(a, edges, side="left") - np.searchsorted(dep_all, edges, side="right")
        wmax = at_start.astype(np.int64)
        wid = (a // w).astype(np.int64) - start
        np.maximum.at(wmax, wid, level)
        if self.win_index >= 0:
            wmax[0] = max(int(wmax[0]), self.win_max)
        runmax_end = np.maximum.accumulate(np.concatenate([[self.runmax_before], wmax]))[1:]
        need = np.concatenate([[self.runmax_before], runmax_end[:-1]])  # peak at the end of the window before
        if np.any(wmax[:-1] < need[:-1]):  # only complete windows are judged; the last may still grow
            return False
        self.win_index = int(wins[-1])
        self.win_max = int(wmax[-1])
        self.runmax_before = int(need[-1])
        return True

    def _switch_to_general(self) -> None:
        self.busy_mode = False
        self.clip_from = self.t_last
        if math.isfinite(self.t_last) and len(self.pending):  # requests still running at the switch
            self.timeline.add_intervals(np.full(len(self.pending), self.t_last), self.pending)

    # -- general mode -------------------------------------------------------------------------------------

    def _feed_general(self, a: FloatArray, s: FloatArray, p: FloatArray) -> None:
        n = len(a)
        cold = np.zeros(n, bool)
        for _ in range(64):
            dep, dep_all, drop, level, d_level = self._match(a, s, p, cold)
            new_cold = (a - drop) > self.keep
            if np.array_equal(new_cold, cold):
                break
            cold = new_cold
        else:  # pragma: no cover - never seen; stay exact rather than guess
            raise FastPathUnavailableError("cold-start fixed point did not converge")
        peak = max(self.levels_seen, int(level.max()))
        tokens = self._check_limits(a[cold], peak)
        res, keep = self.result, self.keep
        latency = self._account(a, s, p, cold=cold, dep=dep, tokens=tokens)
        last_arrival = float(a[-1])
        self._grow_levels(peak)
        committed = dep_all <= last_arrival
        if committed.any():
            np.maximum.at(self.last_drop, d_level[committed] - 1, dep_all[committed])
        self.pending = dep_all[~committed]
        self.levels_seen = peak
        had = np.isfinite(drop)
        idle_start = drop[had]
        idle_end = np.where(cold[had], drop[had] + keep, a[had])
        res.env_s += float(latency.sum() + np.sum(idle_end - idle_start))
        res.peak_inflight = max(res.peak_inflight, peak)
        clipped = np.maximum(idle_start, self.clip_from)
        self.timeline.add_intervals(
            np.concatenate([a, clipped]), np.concatenate([dep, np.maximum(idle_end, clipped)])
        )

    def _match(self, a: FloatArray, s: FloatArray, p: FloatArray, cold: np.ndarray) -> tuple[Any, ...]:
        """For each arrival: its level and the time of the last drop from that level before it."""
        n, c0 = len(a), len(self.pending)
        dep = a + (s + np.where(cold, p, 0.0))  # same rounding as the kernel
        dep_all = np.sort(np.concatenate([self.pending, dep]), kind="stable")  # nearly sorted: timsort
        total = n + len(dep_all)
        pos_arr = np.arange(n) + np.searchsorted(dep_all, a, side="right")  # departures first at ties
        is_arr = np.zeros(total, bool)
        is_arr[pos_arr] = True
        ncum = np.cumsum(is_arr)  # arrivals up to and including each merged position
        count = c0 + 2 * ncum - np.arange(1, total + 1)  # in flight after each event
        level = count + ~is_arr  # a departure falls from count + 1
        ltype = np.int16 if int(level.max()) < 32000 else np.int32
        g = np.argsort(level.astype(ltype), kind="stable")  # by level, then time (radix sort)
        g_level = level[g]
        ka = np.flatnonzero(is_arr[g])
        prev = np.maximum(ka - 1, 0)
        same = (ka > 0) & (g_level[prev] == g_level[ka])  # the event before, at the same level, is the drop
        arrival_id = ncum[g[ka]] - 1
        lv = g_level[ka]
        drop_sorted = np.full(len(ka), -math.inf)
        q = g[prev[same]]
        drop_sorted[same] = dep_all[q - ncum[q]]
        carried = ~same & (lv <= self.levels_seen)
        if carried.any():
            drop_sorted[carried] = self.last_drop[lv[carried] - 1]
        drop = np.empty(n)
        drop[arrival_id] = drop_sorted
        a_level = np.empty(n, np.int64)
        a_level[arrival_id] = lv
        d_level = level[~is_arr]
        return dep, dep_all, drop, a_level, d_level

    # -- end ----------------------------------------------------------------------------------------------

    def finish(self, horizon_end: float) -> tuple[FunctionResult, IntArray, Timeline]:
        res = self.result
        cut = max(horizon_end, self.last_end)
        # pending departures drop the count to 0; the freed environments idle until T or the cut
        c0 = len(self.pending)
        self._grow_levels(max(self.levels_seen, c0))
        for k, t in enumerate(np.sort(self.pending)):
            self.last_drop[c0 - k - 1] = t
        drops = self.last_drop[: self.levels_seen]
        drops = drops[np.isfinite(drops)]
        ends = np.minimum(drops + self.keep, np.maximum(cut, drops))
        res.env_s += float(np.sum(ends - drops))
        if self.busy_mode and math.isfinite(self.t_last):
            # busy mode drew every environment up to the last arrival; add what follows it
            self.timeline.add_intervals(np.full(len(ends), self.t_last), np.maximum(ends, self.t_last))
        else:
            clipped = np.maximum(drops, self.clip_from)
            self.timeline.add_intervals(clipped, np.maximum(ends, clipped))
        res.peak_envs = self.levels_seen
        res.horizon_s = horizon_end
        return res, self.latency, self.timeline
