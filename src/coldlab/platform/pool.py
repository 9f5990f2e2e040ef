"""Environments per function version: reuse, cold starts, reclaim, throttles and provisioned concurrency.

Rules (serve §2.4, §2.6, §4; lambda-contract §5):
- one request per environment at a time; an idle environment of the same version (and configuration
  generation) is reused, **most recently idle first** (a stack), so the least used ones age out and are
  reclaimed; the Environment freezes itself whenever it is idle;
- when none is idle a new one starts (a cold start), if the function's scaling bucket (1,000 per 10 s) has a
  token; an idle environment is reclaimed after its keep-alive (drawn per environment);
- a function's concurrency is its on-demand requests in flight plus its provisioned environments; reserved
  concurrency R caps it at R (429 ReservedFunctionConcurrentInvocationLimitExceeded) and its requests at
  10 x R per second (429 ReservedFunctionInvocationRateLimitExceeded); functions without a
  reservation share what the reservations leave of the account limit (429 ConcurrentInvocationLimitExceeded);
- provisioned environments of a qualifier serve its invokes first; the rest spill over to on-demand ones;
- an environment whose runtime has answered but is not yet back on `/next` is **claimed** by the next invoke
  when none is idle, rather than starting another (its request no longer counts against concurrency): the
  invoke is queued on it and runs as soon as the runtime asks for it, unfrozen. On Lambda the caller's
  network round trip is far longer than that moment; on loopback a caller can come back inside it, and
  sequential invokes must still find one warm environment.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from coldlab.errors import TooManyRequests
from coldlab.platform.limits import KeepAlive, TokenBucket
from coldlab.platform.registry import Target
from coldlab.platform.result import InvocationResult
from coldlab.platform.slots import Counts, Env, EnvFactory, PoolEvent, Slot
from coldlab.runtime.model import Outcome

__all__ = ["Counts", "Env", "EnvFactory", "Pool", "PoolEvent", "Slot"]

PC_INIT_ATTEMPTS = 6  # AWS tried a failing provisioned init six times before FAILED (serve §4)
RESERVED_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"
RESERVED_RATE_REASON = "ReservedFunctionInvocationRateLimitExceeded"
RATE_PER_CONCURRENCY = 10  # requests per second per unit of reserved concurrency (serve §2.6)
ACCOUNT_REASON = "ConcurrentInvocationLimitExceeded"


class Pool:
    """Every environment of every function the server hosts."""

    def __init__(
        self,
        make_env: EnvFactory,
        *,
        account_limit: int,
        keep_alive: KeepAlive | None = None,
        on_event: Callable[[PoolEvent], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.account_limit = account_limit
        self.keep_alive = keep_alive or KeepAlive()
        self._make_env = make_env
        self._on_event = on_event or (lambda event: None)
        self._clock = clock
        self._rng = rng or random.Random()
        self._slots: dict[str, list[Slot]] = {}  # by function name
        self._idle: dict[tuple[str, str, int], list[Slot]] = {}  # on-demand, by version key; top = newest
        self._pc_idle: dict[tuple[str, str], list[Slot]] = {}  # provisioned, by (function, qualifier)
        self._finishing: dict[tuple[str, str, int], list[Slot]] = {}  # answered on-demand ones, by version
        self._pc_finishing: dict[tuple[str, str], list[Slot]] = {}  # answered provisioned ones
        self._reserved: dict[str, int] = {}
        self._buckets: dict[str, TokenBucket] = {}  # new environments per function (the scaling rate)
        self._rates: dict[str, TokenBucket] = {}  # requests per second of reserved-concurrency functions
        self._inflight: Counter[str] = Counter()  # on-demand requests in flight, by function
        self._provisioned: Counter[str] = Counter()  # provisioned environments held, by function
        self.counts: dict[str, Counts] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Future[InvocationResult]] = set()
        self._pc_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    # --- what there is --------------------------------------------------------------------------------

    def slots(self, function: str | None = None) -> list[Slot]:
        if function is not None:
            return list(self._slots.get(function, ()))
        return [slot for slots in self._slots.values() for slot in slots]

    def count(self, function: str) -> Counts:
        return self.counts.setdefault(function, Counts())

    def concurrency(self, function: str) -> int:
        """What the function holds: on-demand requests in flight plus provisioned environments."""
        return self._inflight[function] + self._provisioned[function]

    def set_reserved(self, function: str, value: int | None) -> None:
        self._rates.pop(function, None)
        if value is None:
            self._reserved.pop(function, None)
        else:
            self._reserved[function] = value
            ceiling = RATE_PER_CONCURRENCY * value
            self._rates[function] = TokenBucket(capacity=ceiling, rate=ceiling, clock=self._clock)

    # --- invoke ---------------------------------------------------------------------------------------

    def start(
        self,
        target: Target,
        payload: bytes,
        request_id: str | None = None,
        client_context: str | None = None,
        on_response: Callable[[Outcome], None] | None = None,
    ) -> asyncio.Task[InvocationResult]:
        """Take a provisioned, idle, answered or new environment now (or raise TooManyRequests) and run the
        invoke in a task of its own: a caller that goes away (a client disconnect) does not stop it, and the
        environment comes back to the pool when the function answers, as on Lambda. `on_response` gets the
        runtime's answer as soon as it is posted (see Environment.invoke)."""
        slot, on_demand = self._acquire(target)
        task = asyncio.ensure_future(
            self._run(slot, on_demand, payload, request_id, client_context, on_response)
        )
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def _acquire(self, target: Target) -> tuple[Slot, bool]:
        name = target.name
        counts = self.count(name)
        pc_stack = self._pc_idle.get((name, target.qualifier))
        if pc_stack or self._pc_finishing.get((name, target.qualifier)):
            slot = pc_stack.pop() if pc_stack else self._claim(self._pc_finishing[(name, target.qualifier)])
            self._take(slot)
            counts.invokes += 1
            return slot, False
        if pc_stack is not None:  # the qualifier has provisioned concurrency, all of it busy
            counts.spillovers += 1
        self._check_concurrency(name, counts)
        stack = self._idle.get(target.version.key)
        finishing = self._finishing.get(target.version.key)
        if stack:
            slot = stack.pop()
            self._take(slot)
        elif finishing:
            slot = self._claim(finishing)
        else:
            bucket = self._buckets.setdefault(name, TokenBucket(clock=self._clock))
            if not bucket.take():
                raise self._throttle(name, counts, ACCOUNT_REASON)
            slot = Slot(self._make_env(target.version, "on-demand"), target.version, busy=True)
            self._slots.setdefault(name, []).append(slot)
            counts.cold_starts += 1
            self._on_event(
                PoolEvent("cold-start", name, target.version.version, slot.env.id, self._census(name))
            )
        self._inflight[name] += 1
        counts.invokes += 1
        return slot, True

    def _check_concurrency(self, name: str, counts: Counts) -> None:
        reserved = self._reserved.get(name)
        if reserved is not None:
            if self.concurrency(name) + 1 > reserved:
                raise self._throttle(name, counts, RESERVED_REASON)
            if not self._rates[name].take():  # at most 10 x R requests per second
                raise self._throttle(name, counts, RESERVED_RATE_REASON)
            return
        unreserved = self.account_limit - sum(self._reserved.values())
        used = sum(self.concurrency(f) for f in self._slots if f not in self._reserved)
        if used + 1 > unreserved:
            raise self._throttle(name, counts, ACCOUNT_REASON)

    def _throttle(self, name: str, counts: Counts, reason: str) -> TooManyRequests:
        counts.throttles += 1
        counts.by_reason[reason] += 1
        self._on_event(PoolEvent("throttle", name, "", "", reason))
        return TooManyRequests(reason)

    def _claim(self, finishing: list[Slot]) -> Slot:
        slot = finishing.pop()
        slot.finishing, slot.claimed = False, True
        return slot

    def _answered(self, slot: Slot) -> None:
        """The runtime answered: claimable until it is released (unless it is being retired)."""
        if slot.retired or slot.claimed:
            return
        slot.finishing = True
        if slot.provisioned_for is not None:
            key = (slot.version.config.function_name, slot.provisioned_for)
            self._pc_finishing.setdefault(key, []).append(slot)
        else:
            self._finishing.setdefault(slot.version.key, []).append(slot)

    def _unfinish(self, slot: Slot) -> None:
        if slot.finishing:
            slot.finishing = False
            for lists in (self._finishing, self._pc_finishing):
                for finishing in lists.values():
                    if slot in finishing:
                        finishing.remove(slot)

    def _take(self, slot: Slot) -> None:
        slot.busy = True
        if slot.reclaim is not None:
            slot.reclaim.cancel()
            slot.reclaim = None

    async def _run(  # noqa: PLR0917 - the invoke's own arguments, passed through from invoke()
        self,
        slot: Slot,
        on_demand: bool,
        payload: bytes,
        request_id: str | None,
        client_context: str | None,
        on_response: Callable[[Outcome], None] | None,
    ) -> InvocationResult:
        counted = on_demand  # this request holds one unit of the function's concurrency until it answers
        name = slot.version.config.function_name

        def answered(outcome: Outcome) -> None:
            nonlocal counted
            if counted:
                self._inflight[name] -= 1
                counted = False
            self._answered(slot)
            if on_response is not None:
                on_response(outcome)

        try:
            if not slot.started:
                slot.started = True
                await slot.env.start()
            slot.invokes += 1
            return await slot.env.invoke(
                payload, request_id=request_id, client_context=client_context, on_response=answered
            )
        except BaseException:
            slot.retired = True  # it failed in a way the environment did not handle: never reuse it
            raise
        finally:
            if counted:
                self._inflight[name] -= 1
            self._release(slot)

    def _release(self, slot: Slot) -> None:
        self._unfinish(slot)
        if slot.claimed:  # the next invoke is queued on this environment: it stays busy for it
            slot.claimed = False
            return
        slot.busy = False
        if slot.retired:
            self._discard(slot)
            return
        if slot.provisioned_for is not None:
            self._pc_idle.setdefault((slot.version.config.function_name, slot.provisioned_for), []).append(
                slot
            )
            return
        slot.idle_since = self._clock()
        slot.keep_alive_s = self.keep_alive.draw(self._rng)
        slot.reclaim = asyncio.get_running_loop().call_later(slot.keep_alive_s, self._reclaim, slot)
        self._idle.setdefault(slot.version.key, []).append(slot)

    def _reclaim(self, slot: Slot) -> None:
        slot.reclaim = None
        name = slot.version.config.function_name
        self.count(name).reclaims += 1
        self._discard(slot)
        detail = f"idle {self._clock() - slot.idle_since:.0f} s (keep-alive {slot.keep_alive_s:.0f} s)"
        self._on_event(PoolEvent("reclaim", name, slot.version.version, slot.env.id, detail))

    def _discard(self, slot: Slot) -> None:
        """Take the slot out of every list and close its environment in the background."""
        name = slot.version.config.function_name
        self._unfinish(slot)
        if slot.reclaim is not None:
            slot.reclaim.cancel()
            slot.reclaim = None
        for stacks in (self._idle, self._pc_idle):
            for stack in stacks.values():
                if slot in stack:
                    stack.remove(slot)
        slots = self._slots.get(name, [])
        if slot in slots:
            slots.remove(slot)
            if slot.provisioned_for is not None:
                self._provisioned[name] -= 1
        self._spawn(slot.env.close())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _census(self, name: str) -> str:
        slots = self._slots.get(name, [])
        busy = sum(1 for slot in slots if slot.busy)
        return f"{len(slots)} environments, {busy} busy"

    # --- draining -------------------------------------------------------------------------------------

    def drain(self, function: str, *, keep: Callable[[Slot], bool] = lambda slot: False) -> int:
        """Retire the function's environments `keep` rejects: idle ones close now, busy ones when done."""
        drained = 0
        for slot in self.slots(function):
            if keep(slot):
                continue
            drained += 1
            slot.retired = True
            self._unfinish(slot)  # no new invoke may claim it
            if not slot.busy:
                self._discard(slot)
        if drained:
            self._on_event(PoolEvent("drained", function, "", "", f"{drained} environments"))
        return drained

    def forget(self, function: str) -> None:
        """A deleted function: drain everything, stop provisioning, drop its counters."""
        for key in [key for key in self._pc_tasks if key[0] == function]:
            self._pc_tasks.pop(key).cancel()
        self.drain(function)
        self._reserved.pop(function, None)
        self._buckets.pop(function, None)
        self._rates.pop(function, None)

    # --- provisioned concurrency --------------------------------------------------------------------

    def provision(
        self, target: Target, count: int, report: Callable[[int, int, str, str | None], None]
    ) -> None:
        """Replace the qualifier's provisioned environments by `count` new ones, initialized before traffic.

        `report(allocated, available, status, reason)` follows the allocation: IN_PROGRESS, then READY, or
        FAILED with FUNCTION_ERROR_INIT_FAILURE when an environment's init failed every attempt.
        """
        self.unprovision(target.name, target.qualifier)
        key = (target.name, target.qualifier)
        self._pc_idle[key] = []
        task = asyncio.ensure_future(self._provision(target, count, report))
        self._pc_tasks[key] = task
        task.add_done_callback(
            lambda done: self._pc_tasks.pop(key, None) if self._pc_tasks.get(key) is done else None
        )

    def unprovision(self, function: str, qualifier: str) -> None:
        task = self._pc_tasks.pop((function, qualifier), None)
        if task is not None:
            task.cancel()
        self._pc_idle.pop((function, qualifier), None)
        self.drain(function, keep=lambda slot: slot.provisioned_for != qualifier)

    async def _provision(
        self, target: Target, count: int, report: Callable[[int, int, str, str | None], None]
    ) -> None:
        ready = 0
        report(0, 0, "IN_PROGRESS", None)

        async def one() -> bool:
            nonlocal ready
            for _ in range(PC_INIT_ATTEMPTS):  # each attempt is a fresh environment, as on Lambda
                slot = self._provisioned_slot(target)
                try:
                    slot.started = True
                    await slot.env.start()
                    outcome = await slot.env.initialize()
                except BaseException:
                    slot.busy = False
                    self._discard(slot)
                    raise
                slot.busy = False
                if slot.retired:
                    self._discard(slot)
                    return False
                if outcome.ok:
                    self._pc_idle.setdefault((target.name, target.qualifier), []).append(slot)
                    ready += 1
                    report(ready, ready, "IN_PROGRESS" if ready < count else "READY", None)
                    return True
                self._discard(slot)
            return False

        results = await asyncio.gather(*(one() for _ in range(count)))
        if all(results):
            self._on_event(
                PoolEvent("provisioned", target.name, target.qualifier, "", f"{count} environments")
            )
            return
        # Every attempt of some environment failed: FAILED, nothing allocated; invokes run on-demand.
        self._pc_tasks.pop((target.name, target.qualifier), None)
        self._pc_idle.pop((target.name, target.qualifier), None)
        self.drain(target.name, keep=lambda slot: slot.provisioned_for != target.qualifier)
        report(0, 0, "FAILED", "FUNCTION_ERROR_INIT_FAILURE")
        self._on_event(
            PoolEvent("provisioning-failed", target.name, target.qualifier, "", "FUNCTION_ERROR_INIT_FAILURE")
        )

    def _provisioned_slot(self, target: Target) -> Slot:
        env = self._make_env(target.version, "provisioned-concurrency")
        slot = Slot(env, target.version, provisioned_for=target.qualifier, busy=True)
        self._slots.setdefault(target.name, []).append(slot)
        self._provisioned[target.name] += 1
        return slot

    # --- shutdown -------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop provisioning and close every environment (busy ones are killed: the server is going away)."""
        for pc_task in self._pc_tasks.values():
            pc_task.cancel()
        for running in self._running:
            running.cancel()
        self._pc_tasks.clear()
        if self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)
        for slot in self.slots():
            slot.retired = True
            self._discard(slot)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
