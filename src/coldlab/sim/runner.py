"""Run many functions: one job per function, seeded per function (so results do not depend on which process
ran which job), in a 2-process pool for multi-function traces, merged in job order."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from coldlab.errors import ColdlabError
from coldlab.sim.cloudrun import CloudRunKernel, CloudRunModel
from coldlab.sim.dists import Dist
from coldlab.sim.fastpath import FastPathUnavailableError, LambdaFastPath, fast_path_possible
from coldlab.sim.lambda_des import LambdaKernel, LambdaModel
from coldlab.sim.metrics import FunctionResult, IntArray, RunTotals, Timeline
from coldlab.sim.policies import PolicySpec
from coldlab.sim.traces import InvocationFile, MinuteCounts, Synthetic

Source = Synthetic | MinuteCounts | InvocationFile
T = TypeVar("T")
IN_FLIGHT_PER_WORKER = 8  # jobs read ahead of the results, per worker process
MIN_SERVICE_S = 1e-6  # a request takes at least 1 us, so it always ends after it starts


@dataclass(frozen=True)
class FunctionJob:
    index: int
    name: str
    app: str
    memory_mb: float | None  # None: the run's --memory
    source: Source
    horizon_s: float | None  # None: until the last request ends


@dataclass(frozen=True)
class RunConfig:
    platform: str = "lambda"  # or "cloudrun"
    lam: LambdaModel = field(default_factory=LambdaModel)
    run: CloudRunModel = field(default_factory=CloudRunModel)
    policy: PolicySpec = field(default_factory=PolicySpec)
    cold: Dist | None = None  # cold-start penalty (s); None: no penalty
    seed: int = 1
    bin_s: float = 60.0
    fast: bool = True


Outcome = tuple[FunctionResult, IntArray, Timeline]


def _rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    streams = np.random.SeedSequence([seed, index]).spawn(3)
    return (
        np.random.default_rng(streams[0]),
        np.random.default_rng(streams[1]),
        np.random.default_rng(streams[2]),
    )


ChunkHook = Callable[[int, float], None]  # (requests in the chunk, time of its last arrival)


def simulate_function(job: FunctionJob, cfg: RunConfig, on_chunk: ChunkHook | None = None) -> Outcome:
    """One function from its own seeded streams: arrivals+service, cold penalties, policy draws."""
    if cfg.platform == "cloudrun":
        return _run_model(job, cfg, "cloudrun", on_chunk)
    model = cfg.lam if job.memory_mb is None else replace(cfg.lam, memory_mb=job.memory_mb)
    cfg = replace(cfg, lam=model)
    if cfg.fast and fast_path_possible(model, cfg.policy.build()):
        try:
            return _run_model(job, cfg, "fast", on_chunk)
        except FastPathUnavailableError:
            pass  # exactness first: rerun the same seeded streams in the event kernel
    return _run_model(job, cfg, "kernel", on_chunk)


def _run_model(job: FunctionJob, cfg: RunConfig, kind: str, on_chunk: ChunkHook | None) -> Outcome:
    arrivals_rng, penalty_rng, policy_rng = _rngs(cfg.seed, job.index)
    sim: LambdaFastPath | LambdaKernel | CloudRunKernel
    cold_mean = cfg.cold.mean() if cfg.cold is not None else 0.0
    if kind == "cloudrun":
        run = cfg.run if job.memory_mb is None else replace(cfg.run, memory_mb=job.memory_mb)
        sim = CloudRunKernel(run, name=job.name, app=job.app, bin_s=cfg.bin_s, penalty_mean=cold_mean)
    elif kind == "fast":
        sim = LambdaFastPath(cfg.lam, cfg.policy.build(), name=job.name, app=job.app, bin_s=cfg.bin_s)
    else:
        sim = LambdaKernel(
            cfg.lam, cfg.policy.build(), policy_rng, name=job.name, app=job.app, bin_s=cfg.bin_s
        )
    last = 0.0
    for arrivals, service in job.source.chunks(arrivals_rng):
        penalty = (
            cfg.cold.sample(penalty_rng, len(arrivals)) if cfg.cold is not None else np.zeros(len(arrivals))
        )
        sim.feed(arrivals, np.maximum(service, MIN_SERVICE_S), penalty)
        last = float(arrivals[-1])
        if on_chunk is not None:
            on_chunk(len(arrivals), last)
    horizon = job.horizon_s if job.horizon_s is not None else last
    return sim.finish(horizon)


@dataclass(frozen=True)
class _Failure:
    """A ColdlabError from a worker, carried as data: pickling the exception itself drops its hint."""

    kind: type[ColdlabError]
    message: str
    hint: str | None

    def error(self) -> ColdlabError:
        return self.kind(self.message, self.hint)


def _worker(args: tuple[FunctionJob, RunConfig]) -> Outcome | _Failure:
    try:
        return simulate_function(*args)
    except ColdlabError as exc:
        return _Failure(type(exc), exc.message, exc.hint)


def _worker_init() -> None:
    """Workers leave signals to the parent: a forked worker would otherwise run the parent's SIGTERM
    handler (and print a traceback) when the pool is terminated, and Ctrl-C would reach every worker."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _bounded(items: Iterable[T], slots: threading.Semaphore, stop: threading.Event) -> Iterator[T]:
    """Hand the pool one job per free slot: Pool.imap would otherwise read a streamed trace to the end
    (every job in memory at once). Waits in short steps so that a pool shutting down is never blocked."""
    for item in items:
        while not slots.acquire(timeout=0.1):
            if stop.is_set():
                return
        if stop.is_set():
            return
        yield item


def run_jobs(
    jobs: Iterable[FunctionJob],
    cfg: RunConfig,
    *,
    workers: int = 2,
    progress: Callable[[FunctionResult], None] | None = None,
    on_chunk: ChunkHook | None = None,
) -> RunTotals:
    """Simulate every job; results merge in job order, so the totals do not depend on `workers`."""
    totals = RunTotals()
    outcomes: Iterator[Outcome]
    pairs = ((job, cfg) for job in jobs)
    if workers <= 1:
        outcomes = (simulate_function(job, cfg, on_chunk) for job, cfg in pairs)
        for result, latency, timeline in outcomes:
            totals.add(result, latency, timeline)
            if progress:
                progress(result)
        return totals
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    slots, stop = threading.Semaphore(IN_FLIGHT_PER_WORKER * workers), threading.Event()
    with ctx.Pool(workers, initializer=_worker_init) as pool:
        try:
            for outcome in pool.imap(_worker, _bounded(pairs, slots, stop), chunksize=4):
                slots.release()
                if isinstance(outcome, _Failure):
                    raise outcome.error()
                result, latency, timeline = outcome
                totals.add(result, latency, timeline)
                if progress:
                    progress(result)
        finally:
            stop.set()  # before the pool terminates: its feeder thread may be waiting for a slot
    return totals
