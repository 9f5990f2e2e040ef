"""Google Cloud Run, one service, as a heap-based discrete-event simulation.

Each instance serves up to `concurrency` requests at once (1-1000, default 80); a request goes to the least
loaded ready instance with a free slot. The autoscaler runs every 5 s and targets 60% of max concurrency
on the average in-flight load of the last 60 s: desired = ceil(load / (0.6 * concurrency)), clamped to
[min, max] instances. Instances beyond the target are drained and then kept idle for at most 15 min (a
request may revive one warm). With no free slot a request starts a new instance (a cold start) or waits
for one that is starting; at max instances it queues up to 10 s, then gets 429.

Billing: request-based bills each instance while it has a request in flight (each busy period rounded up
to 100 ms) plus its startup; idle min instances pay the idle rate. Instance-based bills whole lifetimes.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from coldlab.sim.dists import FloatArray
from coldlab.sim.metrics import N_LAT_BINS, FunctionResult, IntArray, Timeline, latency_histogram


@dataclass(frozen=True)
class CloudRunModel:
    concurrency: int = 80
    min_instances: int = 0
    max_instances: int = 100
    vcpu: float = 1.0
    memory_mb: float = 512.0
    target: float = 0.6
    tick_s: float = 5.0
    window_s: float = 60.0
    idle_keep_s: float = 900.0
    queue_timeout_s: float = 10.0
    billing: str = "request"


@dataclass
class _Inst:
    created: float
    ready_at: float
    inflight: int = 0
    draining: bool = False
    idle_since: float | None = None
    busy_since: float = 0.0
    alive: bool = True
    ended: float = math.inf


def _billed_100ms(seconds: float) -> float:
    return math.ceil(seconds * 10.0 - 1e-9) / 10.0


class CloudRunKernel:
    def __init__(
        self, model: CloudRunModel, *, name: str, app: str, bin_s: float, penalty_mean: float
    ) -> None:
        self.m = model
        self.res = FunctionResult(name=name, app=app, memory_mb=model.memory_mb)
        self.timeline = Timeline(bin_s)
        self.lat: list[float] = []  # since the last flush: folded into `latency` after every chunk
        self.latency: IntArray = np.zeros(N_LAT_BINS, np.int64)
        self.cold_times: list[float] = []
        self.throttle_times: list[float] = []
        self.insts: list[_Inst] = []
        self.done: list[tuple[float, int, int]] = []  # (end, seq, instance index)
        self.seq = 0
        self.pending: deque[tuple[float, float]] = deque()  # (arrival, service) waiting at max instances
        self.next_tick = 0.0
        self.inflight = 0
        self.area = 0.0  # integral of in-flight requests
        self.area_t = 0.0
        self.window: deque[float] = deque()  # area at each of the last ticks
        self.idle_min_s = 0.0
        self.billed_s = 0.0
        self.idle_s = 0.0
        self.penalty_mean = penalty_mean
        for _ in range(model.min_instances):
            self.insts.append(_Inst(created=0.0, ready_at=0.0, idle_since=0.0))

    # -- bookkeeping ------------------------------------------------------------------------------------

    def _advance(self, t: float) -> None:
        dt = t - self.area_t
        if dt > 0:
            self.area += self.inflight * dt
            idle = sum(1 for i in self.insts if i.alive and i.inflight == 0 and i.ready_at <= self.area_t)
            self.idle_min_s += min(idle, self.m.min_instances) * dt
            self.idle_s += idle * dt
            self.area_t = t

    def _start(self, t: float, penalty: float) -> _Inst:
        inst = _Inst(created=t, ready_at=t + penalty)
        self.billed_s += _billed_100ms(penalty)  # startup is billed
        self.insts.append(inst)
        self.res.envs_created += 1
        return inst

    def _assign(self, t: float, inst: _Inst, s: float, wait_from: float) -> None:
        index = self.insts.index(inst) if inst is not self.insts[-1] else len(self.insts) - 1
        begin = max(t, inst.ready_at)
        end = begin + s
        if inst.inflight == 0:
            inst.busy_since = begin
            inst.idle_since = None
        inst.inflight += 1
        self.inflight += 1
        heapq.heappush(self.done, (end, self.seq, index))
        self.seq += 1
        latency = end - wait_from
        self.lat.append(latency)
        self.res.queue_s += begin - wait_from
        self.res.busy_s += s
        self.res.served += 1
        if begin > t + 1e-12 and inst.ready_at > t:
            self.res.cold_starts += 1
            self.cold_times.append(wait_from)
        self.res.peak_inflight = max(self.res.peak_inflight, self.inflight)

    def _complete(self, end: float, index: int) -> None:
        self._advance(end)
        inst = self.insts[index]
        inst.inflight -= 1
        self.inflight -= 1
        if inst.inflight == 0:
            self.billed_s += _billed_100ms(end - inst.busy_since)
            inst.idle_since = end
        while self.pending and (inst.inflight < self.m.concurrency and not inst.draining):
            arrival, s = self.pending.popleft()
            if end - arrival > self.m.queue_timeout_s:
                self._reject(arrival)
                continue
            self._assign(end, inst, s, arrival)

    def _reject(self, t: float) -> None:
        self.res.throttled += 1
        self.throttle_times.append(t)

    def _tick(self, t: float) -> None:
        self._advance(t)
        self.window.append(self.area)
        ticks = max(1, round(self.m.window_s / self.m.tick_s))
        if len(self.window) > ticks + 1:
            self.window.popleft()
        span = (len(self.window) - 1) * self.m.tick_s
        load = (self.window[-1] - self.window[0]) / span if span > 0 else float(self.inflight)
        desired = math.ceil(load / (self.m.target * self.m.concurrency) - 1e-9)
        desired = min(self.m.max_instances, max(self.m.min_instances, desired))
        active = [i for i in self.insts if i.alive and not i.draining]
        if len(active) < desired:
            for inst in self.insts:  # revive drained instances first (warm)
                if len(active) >= desired:
                    break
                if inst.alive and inst.draining:
                    inst.draining = False
                    active.append(inst)
            while len(active) < desired:
                active.append(self._start(t, self.penalty_mean))
        elif len(active) > desired:
            for inst in sorted(active, key=lambda i: i.inflight)[: len(active) - desired]:
                inst.draining = True
        for inst in self.insts:  # drained and idle beyond the keep window: gone
            if (
                inst.alive
                and inst.draining
                and inst.inflight == 0
                and inst.idle_since is not None
                and t - inst.idle_since >= self.m.idle_keep_s
            ):
                self._retire(inst, inst.idle_since + self.m.idle_keep_s)

    def _retire(self, inst: _Inst, t: float) -> None:
        inst.alive = False
        inst.ended = t
        self.res.env_s += t - inst.created
        self.timeline.add_intervals(np.array([inst.created]), np.array([t]))

    def _run_until(self, t: float) -> None:
        while True:
            next_done = self.done[0][0] if self.done else math.inf
            if self.next_tick <= t and self.next_tick <= next_done:
                self._tick(self.next_tick)
                self.next_tick += self.m.tick_s
            elif next_done <= t:
                end, _, index = heapq.heappop(self.done)
                self._complete(end, index)
            else:
                return

    # -- arrivals ---------------------------------------------------------------------------------------

    def feed(self, arrivals: FloatArray, service: FloatArray, penalty: FloatArray) -> None:
        self.res.arrivals += len(arrivals)
        cap = self.m.concurrency
        for t, s, p in zip(arrivals.tolist(), service.tolist(), penalty.tolist(), strict=True):
            self._run_until(t)
            self._advance(t)
            best = None
            for inst in self.insts:
                if (
                    inst.alive
                    and not inst.draining
                    and inst.ready_at <= t
                    and inst.inflight < cap
                    and (best is None or inst.inflight < best.inflight)
                ):
                    best = inst
            if best is None:  # a starting instance with a free slot, or a drained one to revive
                for inst in self.insts:
                    if inst.alive and not inst.draining and inst.inflight < cap:
                        best = inst
                        break
            if best is None:
                for inst in self.insts:
                    if inst.alive and inst.draining and inst.inflight < cap:
                        inst.draining = False
                        best = inst
                        break
            if best is None:
                if sum(1 for i in self.insts if i.alive) < self.m.max_instances:
                    best = self._start(t, p)
                else:
                    self.pending.append((t, s))
                    continue
            self._assign(t, best, s, t)
        self._flush()

    def _flush(self) -> None:
        """Fold per-request figures into the histogram and the timeline: memory stays bounded by a chunk."""
        if self.lat:
            self.latency += latency_histogram(np.asarray(self.lat))
            self.lat.clear()
        self.timeline.add_events(np.asarray(self.cold_times))
        self.timeline.add_events(np.asarray(self.throttle_times), throttled=True)
        self.cold_times.clear()
        self.throttle_times.clear()

    def finish(self, horizon_end: float) -> tuple[FunctionResult, IntArray, Timeline]:
        self._run_until(horizon_end)
        while self.done:
            end, _, index = heapq.heappop(self.done)
            self._complete(end, index)
        for arrival, _ in self.pending:
            self._reject(arrival)
        self.pending.clear()
        end_t = max(horizon_end, self.area_t)
        self._advance(end_t)
        for inst in self.insts:
            if inst.alive:
                stop = end_t
                if inst.draining and inst.idle_since is not None:
                    stop = min(end_t, inst.idle_since + self.m.idle_keep_s)
                self._retire(inst, stop)
        res = self.res
        res.horizon_s = horizon_end
        res.peak_envs = _peak(self.insts, end_t)
        active_s = self.billed_s if self.m.billing == "request" else res.env_s
        res.extra = {
            "active_instance_s": active_s,
            "idle_min_instance_s": self.idle_min_s,
            "instances_at_end": float(sum(1 for i in self.insts if i.ready_at <= end_t and not i.draining)),
        }
        self._flush()
        return res, self.latency, self.timeline

    def active_instances(self) -> int:
        return sum(1 for i in self.insts if i.alive and not i.draining)


def _peak(insts: list[_Inst], end_t: float) -> int:
    if not insts:
        return 0
    starts = np.array([i.created for i in insts])
    ends = np.array([min(i.ended, end_t) for i in insts])
    times = np.concatenate([starts, ends])
    delta = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((delta, times))
    return int(np.max(np.cumsum(delta[order])))
