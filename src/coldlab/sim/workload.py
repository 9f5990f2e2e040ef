"""Build per-function jobs from what the user pointed at: a synthetic pattern, an Azure 2019 day, or a
per-invocation CSV. Jobs are generated lazily so a large Azure file is streamed row by row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.errors import UsageError
from coldlab.sim.azure import read_azure_durations, read_azure_invocations, read_azure_memory
from coldlab.sim.bounds import MAX_REQUESTS, Work
from coldlab.sim.dists import Dist
from coldlab.sim.runner import FunctionJob
from coldlab.sim.traces import (
    InvocationFile,
    MinuteCounts,
    Synthetic,
    invocation_functions,
    partition_invocations,
)

LAMBDA_MIN_MB = 128


@dataclass(frozen=True)
class AzureInput:
    invocations: Path
    durations: Path | None = None
    memory: Path | None = None
    placement: str = "uniform"
    limit: int | None = None  # first N functions


def synthetic_jobs(pattern: Synthetic) -> list[FunctionJob]:
    return [FunctionJob(0, pattern.pattern, pattern.pattern, None, pattern, pattern.horizon_s)]


def synthetic_work(pattern: Synthetic, tick_s: float | None = None) -> Work:
    """Expected events of a synthetic pattern: rate x horizon requests (plus the spike's extra minute),
    and for Cloud Run one autoscaler evaluation every `tick_s` of the horizon (counted as requests)."""
    requests = pattern.rate * pattern.horizon_s
    if pattern.pattern == "spike":
        requests += pattern.rate * pattern.spike_factor * min(60.0, pattern.horizon_s / 2)
    what = f"--rate {pattern.rate:g}/s x --horizon {pattern.horizon_s:g} s"
    if tick_s:
        requests += pattern.horizon_s / tick_s
        what += f", plus an autoscaler tick every {tick_s:g} s"
    return Work(requests, 1, what)


def azure_jobs(
    spec: AzureInput, default_duration: Dist, *, memory_floor: bool = True, force: bool = False
) -> Iterator[FunctionJob]:
    """One job per function row. Durations: the function's percentiles (piecewise inverse CDF), else
    `default_duration`. Memory is per app in the trace; every function gets its app's average, at least
    128 MB (Lambda's minimum), else the run's --memory. The file is streamed, so its work is counted as it
    is read: past MAX_REQUESTS (unless `force`) the next job is refused, before it is simulated."""
    durations = read_azure_durations(spec.durations) if spec.durations else {}
    memory = read_azure_memory(spec.memory) if spec.memory else {}
    total = 0
    for index, row in enumerate(read_azure_invocations(spec.invocations)):
        if spec.limit is not None and index >= spec.limit:
            return
        total += sum(row.counts)
        if total > MAX_REQUESTS and not force:
            # the whole message in the text: it may cross a process boundary, which drops the hint
            raise UsageError(
                f"{spec.invocations}: the first {index + 1} functions already hold {total:.3g} requests, "
                f"over the bound of {MAX_REQUESTS:.0e}; pass --max-functions {max(1, index)} to simulate "
                "fewer, or --force to run them all"
            )
        dist = durations.get((row.owner, row.app, row.function), default_duration)
        mb = memory.get((row.owner, row.app))
        if mb is not None and memory_floor:
            mb = max(float(LAMBDA_MIN_MB), round(mb))
        source = MinuteCounts(row.counts, dist, spec.placement)
        yield FunctionJob(index, row.function[:12], row.app[:12], mb, source, len(row.counts) * 60.0)


def invocation_jobs(path: Path, workdir: Path | None = None) -> list[FunctionJob]:
    """One job per function. With several functions and a `workdir`, the CSV is split in one pass into
    per-function binary files there (kept until the caller removes the directory)."""
    names = invocation_functions(path)
    parts = partition_invocations(path, workdir) if workdir is not None and len(names) > 1 else {}
    return [
        FunctionJob(
            i,
            name or path.stem,
            name or path.stem,
            None,
            InvocationFile(str(path), name, str(parts[name]) if name in parts else None),
            None,
        )
        for i, name in enumerate(names)
    ]


def describe_inputs(kind: str, **details: Any) -> dict[str, Any]:
    if kind not in ("synthetic", "azure2019", "invocations"):
        raise UsageError(f"unknown input kind {kind}")
    return {"kind": kind} | {k: (str(v) if isinstance(v, Path) else v) for k, v in details.items()}
