"""AWS Lambda, one function, as a heap-based discrete-event simulation.

One request per environment. An arrival reuses an idle environment (provisioned ones first, then on-demand
by the routing rule: `mru` = most recently idle, `newest` = newest created, as SimFaaS does), else starts a
new one (a cold start) if the scaling token bucket allows (1,000 new environments per 10 s, refilled
continuously) and the concurrency limit (reserved concurrency, else the account's 1,000) is not reached;
otherwise it is throttled (429). Completions at the same instant as an arrival happen first.

Arrivals are fed in chunks (`feed`), so a trace never has to be in memory whole.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from coldlab.sim.dists import FloatArray
from coldlab.sim.metrics import N_LAT_BINS, FunctionResult, IntArray, Timeline, latency_histogram
from coldlab.sim.policies import KeepAlive


@dataclass(frozen=True)
class LambdaModel:
    memory_mb: float = 128.0
    arch: str = "x86_64"
    provisioned: int = 0
    reserved: int | None = None  # reserved concurrency; None -> account limit
    account_limit: int = 1000
    burst: int = 1000  # new environments per `burst_window_s`
    burst_window_s: float = 10.0
    recycle_s: float | None = None  # forced recycle age (None = off)
    routing: str = "mru"
    init_billed: bool = True  # INIT billed (always for Go/provided.*; all runtimes since 2025-08-01)

    @property
    def concurrency_limit(self) -> int:
        return self.reserved if self.reserved is not None else self.account_limit


PACK_AT = 1 << 16  # closed lifetimes kept as Python floats before they are packed into arrays


def _billed_ms(seconds: FloatArray) -> int:
    return int(np.maximum(1, np.ceil(seconds * 1000.0 - 1e-9)).sum()) if len(seconds) else 0


class LambdaKernel:
    """The event-driven model. Use for anything the fast path cannot do exactly."""

    def __init__(
        self,
        model: LambdaModel,
        policy: KeepAlive,
        rng: np.random.Generator,
        *,
        name: str,
        app: str,
        bin_s: float,
    ) -> None:
        self.m = model
        self.policy = policy
        self.rng = rng
        self.result = FunctionResult(
            name=name, app=app, memory_mb=model.memory_mb, provisioned=model.provisioned
        )
        self.timeline = Timeline(bin_s)
        self.latency = np.zeros(N_LAT_BINS, np.int64)
        self.busy: list[tuple[float, int, float, bool]] = []  # (end, seq, created, provisioned)
        self.pc_idle: list[float] = [0.0] * model.provisioned
        self.idle: list[tuple[float, float, float]] = []  # (available_from, deadline, created)
        self.starts: list[float] = []  # closed environment lifetimes (recent; older ones are packed)
        self.ends: list[float] = []
        self.packed: list[tuple[FloatArray, FloatArray]] = []  # 16 bytes a lifetime instead of ~64
        self.tokens = float(model.burst)
        self.token_t = 0.0
        self.last_end = -math.inf  # end of the previous invocation (the hybrid policy's idle-time origin)
        self.max_end = 0.0
        self.seq = 0

    # -- completions -----------------------------------------------------------------------------------

    def _complete(self, end: float, created: float, provisioned: bool) -> None:
        if provisioned:
            self.pc_idle.append(created)
            return
        recycle = self.m.recycle_s
        if recycle is not None and end - created >= recycle:
            self.starts.append(created)
            self.ends.append(end)
            return
        prewarm, keep = self.policy.windows(self.rng)
        if prewarm > 0:  # unload now, load a fresh environment ahead of the expected next arrival
            self.starts.append(created)
            self.ends.append(end)
            self.idle.append((end + prewarm, end + prewarm + keep, end + prewarm))
            self.result.prewarms += 1
        else:
            self.idle.append((end, end + keep, created))

    def _take_idle(self, t: float) -> float | None:
        """Pop a usable idle environment (its creation time), closing expired ones on the way."""
        idle = self.idle
        if self.m.routing == "newest":
            best = -1
            j = len(idle) - 1
            while j >= 0:
                avail, deadline, created = idle[j]
                if deadline < t:
                    self.starts.append(created)
                    self.ends.append(deadline)
                    del idle[j]
                    best -= 1 if best > j else 0
                elif avail <= t and (best < 0 or created > idle[best][2]):
                    best = j
                j -= 1
            return idle.pop(best)[2] if best >= 0 else None
        j = len(idle) - 1
        while j >= 0:
            avail, deadline, created = idle[j]
            if deadline < t:
                self.starts.append(created)
                self.ends.append(deadline)
                del idle[j]
            elif avail <= t:
                del idle[j]
                return created
            j -= 1
        return None

    # -- arrivals ---------------------------------------------------------------------------------------

    def feed(self, arrivals: FloatArray, service: FloatArray, penalty: FloatArray) -> None:  # noqa: PLR0915 - one hot loop, kept inline for speed
        n = len(arrivals)
        if n == 0:
            return
        res, busy, policy = self.result, self.busy, self.policy
        heappush, heappop = heapq.heappush, heapq.heappop
        limit = self.m.concurrency_limit
        rate = self.m.burst / self.m.burst_window_s
        cap = float(self.m.burst)
        latency = np.full(n, np.nan)
        cold_flags = np.zeros(n, bool)
        pc_flags = np.zeros(n, bool)
        served = np.zeros(n, bool)
        throttled_at: list[float] = []
        record = policy.name == "hybrid"
        arr_list, svc_list, pen_list = arrivals.tolist(), service.tolist(), penalty.tolist()
        for i in range(n):
            t = arr_list[i]
            while busy and busy[0][0] <= t:
                end, _, created, pc = heappop(busy)
                self._complete(end, created, pc)
            if record and self.last_end > -math.inf:
                policy.record_gap(max(0.0, t - self.last_end))
            if len(busy) >= limit:
                throttled_at.append(t)
                continue
            s = svc_list[i]
            cold = False
            if self.pc_idle:
                created = self.pc_idle.pop()
                pc = True
            else:
                pc = False
                got = self._take_idle(t) if self.idle else None
                if got is None:
                    self.tokens = min(cap, self.tokens + (t - self.token_t) * rate)
                    self.token_t = t
                    if self.tokens < 1.0:
                        throttled_at.append(t)
                        continue
                    self.tokens -= 1.0
                    created = t
                    cold = True
                    s += pen_list[i]
                else:
                    created = got
            end = t + s
            self.last_end = end
            self.max_end = max(self.max_end, end)
            heappush(busy, (end, self.seq, created, pc))
            self.seq += 1
            latency[i] = s
            cold_flags[i] = cold
            pc_flags[i] = pc
            served[i] = True
            res.peak_inflight = max(res.peak_inflight, len(busy))
        self._account(
            arrivals,
            service,
            penalty,
            latency=latency,
            served=served,
            cold=cold_flags,
            pc=pc_flags,
            throttled_at=throttled_at,
        )

    def _account(
        self,
        arrivals: FloatArray,
        service: FloatArray,
        penalty: FloatArray,
        *,
        latency: FloatArray,
        served: np.ndarray,
        cold: np.ndarray,
        pc: np.ndarray,
        throttled_at: list[float],
    ) -> None:
        res = self.result
        res.arrivals += len(arrivals)
        res.served += int(served.sum())
        res.throttled += len(throttled_at)
        res.cold_starts += int(cold.sum())
        res.envs_created += int(cold.sum())
        res.busy_s += float(np.nansum(latency))
        od = served & ~pc
        res.billed_ms += _billed_ms(service[od])
        res.billed_pc_ms += _billed_ms(service[served & pc])
        if self.m.init_billed:
            res.billed_init_ms += _billed_ms(penalty[cold & (penalty > 0)])
        if self.m.provisioned:
            res.spillover += int(od.sum())
        lat = latency_histogram(latency[served])
        self.latency += lat
        self.timeline.add_events(arrivals[cold])
        self.timeline.add_events(np.asarray(throttled_at), throttled=True)
        if len(self.starts) >= PACK_AT:
            self.packed.append((np.asarray(self.starts, float), np.asarray(self.ends, float)))
            self.starts, self.ends = [], []

    def finish(self, horizon_end: float) -> tuple[FunctionResult, IntArray, Timeline]:
        while self.busy:
            end, _, created, pc = heapq.heappop(self.busy)
            self._complete(end, created, pc)
        cut = max(horizon_end, self.max_end)
        for avail, deadline, created in self.idle:
            if avail <= cut:
                self.starts.append(created)
                self.ends.append(min(deadline, cut))
        for created in self.pc_idle:
            self.starts.append(created)
            self.ends.append(cut)
        self.packed.append((np.asarray(self.starts, float), np.asarray(self.ends, float)))
        starts = np.concatenate([p[0] for p in self.packed])
        ends = np.concatenate([p[1] for p in self.packed])
        self.packed, self.starts, self.ends = [], [], []
        res = self.result
        res.env_s = float(np.sum(ends - starts))
        res.horizon_s = horizon_end
        res.peak_envs = _peak_overlap(starts, ends)
        self.timeline.add_intervals(starts, ends)
        return res, self.latency, self.timeline


def _peak_overlap(starts: FloatArray, ends: FloatArray) -> int:
    if len(starts) == 0:
        return 0
    times = np.concatenate([ends, starts])
    delta = np.concatenate([-np.ones(len(ends)), np.ones(len(starts))])
    order = np.lexsort((delta, times))  # ends before starts at the same instant
    return int(np.max(np.cumsum(delta[order])))
