"""What the pool knows of each environment: the Env protocol, its Slot, the per-function Counts, PoolEvent."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from coldlab.platform.registry import Version
from coldlab.platform.result import InitOutcome, InvocationResult
from coldlab.runtime.model import Outcome


class Env(Protocol):
    """What the pool needs of an execution environment (coldlab.platform.Environment provides it)."""

    id: str

    @property
    def state(self) -> str: ...
    @property
    def pid(self) -> int | None: ...
    async def start(self) -> None: ...
    async def initialize(self) -> InitOutcome: ...
    async def invoke(
        self,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        on_response: Callable[[Outcome], None] | None = None,
    ) -> InvocationResult: ...
    async def close(self) -> None: ...


EnvFactory = Callable[[Version, str], Env]  # (version, initialization type) -> a new, unstarted environment


@dataclass(frozen=True)
class PoolEvent:
    """Something people watching the server want to see (a cold start, a reclaim, a throttle)."""

    kind: str  # "cold-start" | "reclaim" | "throttle" | "provisioned" | "provisioning-failed" | "drained"
    function: str
    version: str
    env_id: str = ""
    detail: str = ""


@dataclass
class Slot:
    """One environment in the pool, with what the pool knows about it."""

    env: Env
    version: Version
    provisioned_for: str | None = None  # the qualifier whose provisioned concurrency this environment is
    busy: bool = False
    started: bool = False
    retired: bool = False  # drained: closed once it is idle
    invokes: int = 0
    keep_alive_s: float = 0.0
    idle_since: float = 0.0
    reclaim: asyncio.TimerHandle | None = None
    finishing: bool = False  # answered, not yet released, claimable by the next invoke
    claimed: bool = False  # the next invoke is queued on it: it stays busy at release

    def describe(self) -> str:
        """The state the status page shows: initializing, busy, idle-frozen (or new, closed)."""
        state = self.env.state
        if state == "new" and self.busy:
            return "initializing"  # taken for a cold start, still unpacking or spawning
        return "idle-frozen" if state == "idle" else state


@dataclass
class Counts:
    invokes: int = 0
    cold_starts: int = 0
    throttles: int = 0
    spillovers: int = 0
    reclaims: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
