"""Local backend: each memory size runs in coldlab execution environments with that size's limits.

The CPU quota (memory/1769 vCPU) and memory limit are applied by the environment's sandbox Host; where the
host cannot enforce them, `fidelity` says so and the report carries it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from coldlab.platform.code import load_code
from coldlab.sandbox import Limits, select_host
from coldlab.tune.backends import Progress, Sample, SizeWork, split_round_robin


def sample_from(result: InvocationResult, event_index: int) -> Sample:
    return Sample(
        memory_mb=result.memory_size_mb,
        cold=result.cold,
        status=result.status,
        duration_ms=result.duration_ms,
        billed_duration_ms=result.billed_duration_ms,
        init_duration_ms=result.init_duration_ms,
        max_memory_used_mb=result.max_memory_used_mb,
        error_type=result.error_type if result.status != "success" else None,
        event_index=event_index,
    )


def cpu_limited(fidelity: dict[str, Any]) -> bool:
    """True when the host enforces a CPU quota (durations then follow memory as on Lambda)."""
    return not str(fidelity.get("cpu", "not-limited")).startswith("not-limited")


class LocalBackend:
    """Runs the function's code directory (or zip) in local execution environments."""

    name = "local"

    def __init__(self, code: Path, environment: dict[str, str] | None = None) -> None:
        self.code = code
        self.environment = dict(environment or {})

    async def __aenter__(self) -> LocalBackend:
        load_code(self.code).cleanup()  # a missing or unusable bootstrap fails before the first size starts
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def fidelity(self, memory_mb: int) -> dict[str, Any]:
        return select_host().fidelity(Limits(memory_mb=memory_mb)).as_dict()

    def _config(self, work: SizeWork) -> FunctionConfig:
        return FunctionConfig.create(
            self.code, memory_mb=work.memory_mb, timeout_s=work.timeout_s, environment=self.environment
        )

    async def measure(self, work: SizeWork, progress: Progress) -> list[Sample]:
        config = self._config(work)
        samples: list[Sample] = []

        def record(result: InvocationResult, index: int) -> None:
            sample = sample_from(result, index)
            samples.append(sample)
            progress(sample)

        async def lane(items: list[tuple[int, bytes]]) -> None:
            # One environment per lane: its first invoke is the cold one, the rest are warm.
            async with Environment(config) as env:
                index = items[0][0] if items else 0
                record(await env.invoke(work.event(index)), index)
                for index, payload in items:
                    record(await env.invoke(payload), index)

        lanes = split_round_robin(work.events, min(work.parallel, len(work.events))) if work.events else [[]]
        await asyncio.gather(*(lane(items) for items in lanes))
        # `--cold N` beyond the lanes: more fresh environments, one cold invoke each.
        gate = asyncio.Semaphore(work.parallel)

        async def cold_only(n: int) -> None:
            async with gate, Environment(config) as env:
                index = n % len(work.events) if work.events else 0
                record(await env.invoke(work.event(index)), index)

        await asyncio.gather(*(cold_only(n) for n in range(max(work.cold - len(lanes), 0))))
        return samples
