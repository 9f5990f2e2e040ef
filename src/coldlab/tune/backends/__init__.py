"""Backends run a function at one memory size and return one Sample per invocation.

The local backend uses coldlab execution environments; the AWS backend uses boto3 against real Lambda.
Both implement `Backend`, so the tuner (and tests, with a fake) drive them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol


@dataclass(frozen=True)
class Sample:
    """One invocation's REPORT figures (what Lambda bills and what the caller waited for)."""

    memory_mb: int
    cold: bool
    status: str  # "success" | "error" | "timeout"
    duration_ms: float
    billed_duration_ms: int  # as REPORT says: rounded up to 1 ms, including init on cold starts
    init_duration_ms: float | None = None
    max_memory_used_mb: int = 0
    error_type: str | None = None
    event_index: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def as_dict(self) -> dict[str, Any]:
        return {
            "memory_mb": self.memory_mb,
            "cold": self.cold,
            "status": self.status,
            "error_type": self.error_type,
            "duration_ms": round(self.duration_ms, 3),
            "billed_duration_ms": self.billed_duration_ms,
            "init_duration_ms": None if self.init_duration_ms is None else round(self.init_duration_ms, 3),
            "max_memory_used_mb": self.max_memory_used_mb,
            "event_index": self.event_index,
        }


@dataclass(frozen=True)
class SizeWork:
    """What to run at one memory size: the warm payload schedule, fresh environments, concurrency."""

    memory_mb: int
    events: tuple[bytes, ...]  # warm invocations, in order
    cold: int  # cold invocations (fresh environments) wanted; at least 1
    parallel: int
    timeout_s: int
    first_event: bytes = b"{}"  # the payload of cold invocations when there are no warm ones

    def event(self, index: int) -> bytes:
        """The payload for slot `index` (cycling through the warm schedule), for cold invocations."""
        return self.events[index % len(self.events)] if self.events else self.first_event


Progress = Callable[[Sample], None]


class Backend(Protocol):
    """Runs invocations somewhere. Use as an async context manager: setup on enter, restore on exit."""

    name: str

    async def __aenter__(self) -> Backend: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def fidelity(self, memory_mb: int) -> dict[str, Any]:
        """How faithful measurements at this size are (CPU quota in force or not, real Lambda, ...)."""
        ...

    async def measure(self, work: SizeWork, progress: Progress) -> list[Sample]:
        """Run `work`; call `progress` after each invocation; return every sample (cold ones included)."""
        ...


def split_round_robin(events: tuple[bytes, ...], lanes: int) -> list[list[tuple[int, bytes]]]:
    """Deal (index, payload) pairs to `lanes` concurrent workers, keeping each lane's order."""
    dealt: list[list[tuple[int, bytes]]] = [[] for _ in range(max(lanes, 1))]
    for index, payload in enumerate(events):
        dealt[index % len(dealt)].append((index, payload))
    return dealt
