"""Execute a plan: memory sizes one after another (so sizes never compete for CPU), samples collected."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldlab.tune.backends import Backend, Sample, SizeWork
from coldlab.tune.backends.local import cpu_limited
from coldlab.tune.plan import Plan


class Observer:
    """Hooks for progress display; the default does nothing (library code never prints)."""

    def size_started(self, memory_mb: int, total: int) -> None:
        """A memory size begins; `total` invocations are planned for it."""

    def sample(self, sample: Sample) -> None:
        """One invocation finished."""

    def size_finished(self, memory_mb: int) -> None:
        """A memory size is done."""


@dataclass(frozen=True)
class Execution:
    plan: Plan
    backend: str
    samples: tuple[Sample, ...]
    fidelity: dict[int, dict[str, Any]]
    wall_s: float
    measured_arch: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def archs(self) -> tuple[str, ...]:
        """The architectures to price: as asked, or the one the durations were measured on."""
        return self.plan.archs or (self.measured_arch,)


def machine_arch() -> str:
    machine = platform.machine().lower()
    return "arm64" if machine in ("aarch64", "arm64") else "x86_64"


def work_for(plan: Plan, memory_mb: int) -> SizeWork:
    return SizeWork(
        memory_mb=memory_mb,
        events=plan.events[: plan.invocations],
        cold=plan.cold_per_size,
        parallel=plan.parallel,
        timeout_s=plan.timeout_s,
        first_event=plan.events[0],
    )


def fidelity_notes(
    backend: Backend, plan: Plan, measured_arch: str
) -> tuple[dict[int, dict[str, Any]], list[str]]:
    fidelity = {m: backend.fidelity(m) for m in plan.memory_sizes}
    notes: list[str] = []
    if backend.name == "local":
        unlimited = [m for m, f in fidelity.items() if not cpu_limited(f)]
        if unlimited:
            reason = fidelity[unlimited[0]].get("cpu", "not-limited")
            notes.append(
                f"CPU quota not in force ({reason}): durations do not follow memory as on Lambda, "
                "so speed-based picks are not meaningful on this machine"
            )
    for item in fidelity.values():
        notes.extend(n for n in item.get("notes", []) if "capped" in n and n not in notes)
    others = [a for a in plan.archs if a != measured_arch]
    if others:
        notes.append(
            f"durations were measured on {measured_arch}; {', '.join(others)} costs assume the same "
            "durations (only the price differs)"
        )
    return fidelity, notes


async def execute(
    plan: Plan,
    backend: Backend,
    observer: Observer | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Execution:
    """Run every memory size of `plan` on `backend` (entered here, so its restore always runs)."""
    watch = observer or Observer()
    samples: list[Sample] = []
    started = clock()
    async with backend:
        measured = getattr(backend, "architecture", None) or machine_arch()
        fidelity, notes = fidelity_notes(backend, plan, measured)
        for memory_mb in plan.memory_sizes:
            work = work_for(plan, memory_mb)
            watch.size_started(memory_mb, len(work.events) + work.cold)
            samples.extend(await backend.measure(work, watch.sample))
            watch.size_finished(memory_mb)
    return Execution(plan, backend.name, tuple(samples), fidelity, clock() - started, measured, tuple(notes))
