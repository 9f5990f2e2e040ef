"""Durable asynchronous (Event) invocations: the queue's poller and Lambda's retry policy (serve §2.5).

- Accepted (202) only once the event is committed to the state database's queue.
- A function error or timeout is retried up to MaximumRetryAttempts (0-2, default 2): the first retry 1 min
  after, the second 2 min after that (`RETRY_BASE_S` x n).
- A throttle or a platform error returns the event to the queue with backoff from 1 s doubling to 5 min,
  until MaximumEventAgeInSeconds (60-21,600, default 6 h); a retry that would land past the age is not made
  (EventAgeExceeded now, as LocalStack's `has_enough_time_for_retry`).
- Reserved concurrency 0: straight to the on-failure destination (or dropped), no retries.
- Every delay and age is multiplied by `scale` (`coldlab serve --retry-delay-scale`), so tests run in
  seconds what Lambda runs in minutes.
- At least once: a delivery is marked running before the function runs and leaves the queue only once its
  outcome (and destination record) is committed; one cut off by a crash runs again (a counted duplicate).
- A destination record that cannot be written keeps its event in the queue, retried with backoff; the
  problem is logged once and listed in the status JSON until a write to that destination succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

from coldlab.errors import ColdlabError, ResourceNotFound, TooManyRequests
from coldlab.platform.destinations import Destination, destination_record, write_record
from coldlab.platform.event_policy import (
    RETRY_BASE_S,
    EventConfig,
    Outcome,
    compact_json,
    error_outcome,
    event_outcome,
    next_backoff,
    outcome_json,
)
from coldlab.platform.result import InvocationResult
from coldlab.store import queue
from coldlab.store.db import StateDb
from coldlab.store.queue import QueuedEvent

MAX_RUNNING = 64  # deliveries in flight at once (throttles beyond the function's limits requeue the rest)
IDLE_POLL_S = 1.0
log = logging.getLogger("coldlab.platform.delivery")

InvokeEvent = Callable[[QueuedEvent], Awaitable[InvocationResult]]


class Delivery:
    """Polls the queue, runs due events through `invoke_event`, applies the retry policy."""

    def __init__(
        self,
        state: StateDb,
        invoke_event: InvokeEvent,
        *,
        reserved: Callable[[str], int | None],
        function_arn: Callable[[str, str], str],
        executed_version: Callable[[str, str], str],
        scale: float = 1.0,
        say: Callable[[str], None] = lambda line: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._writer = state.writer
        self._invoke = invoke_event
        self._reserved = reserved
        self._arn = function_arn
        self._executed = executed_version
        self.scale = scale
        self._say = say
        self._clock = clock
        self.configs: dict[tuple[str, str], dict[str, Any]] = {}
        self.counts: dict[str, Counter[str]] = {}
        self.queue: dict[str, Counter[str]] = {}  # rows by function and state
        self.problems: dict[str, dict[str, Any]] = {}  # by destination: what failed, since when
        self._running: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._claiming = True
        self._waiting_for: set[str] = set()  # functions whose events wait for the function to exist
        self._deleted: set[str] = set()  # deleted by DeleteFunction: what still runs for them is dropped

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> dict[str, int]:
        """Load the configs and counters, put cut-off deliveries back in the queue, start polling.
        Returns the duplicates by function (deliveries a crash cut off, run again)."""

        def load(
            conn: Any,
        ) -> tuple[dict[str, int], Any, dict[str, dict[str, int]], dict[str, dict[str, int]]]:
            duplicates = queue.recover(conn, self._clock())
            return duplicates, queue.load_configs(conn), queue.counts(conn), queue.states(conn)

        duplicates, self.configs, counts, states = await self._writer.call(load)
        self.counts = {name: Counter(values) for name, values in counts.items()}
        self.queue = {name: Counter(values) for name, values in states.items()}
        self._loop_task = asyncio.ensure_future(self._poll())
        return duplicates

    @property
    def running(self) -> int:
        return len(self._running)

    def stop_claiming(self) -> None:
        """Shutdown: no new deliveries; those running finish (or are cut off by `close`)."""
        self._claiming = False
        self._wake.set()

    async def close(self) -> None:
        """Stop polling and cut off what still runs: its rows stay `running`, delivered again next start."""
        self.stop_claiming()
        tasks = [t for t in (self._loop_task, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- accepting -----------------------------------------------------------------------------------

    async def enqueue(self, event: QueuedEvent) -> None:
        """Commit the event to the queue (the caller answers 202 after this returns)."""
        await self._writer.call(lambda conn: queue.enqueue(conn, event))
        self.counts.setdefault(event.function, Counter())["accepted"] += 1
        self.queue.setdefault(event.function, Counter())["queued"] += 1
        self._wake.set()

    def config(self, function: str, qualifier: str) -> EventConfig:
        document = self.configs.get((function, qualifier))
        return EventConfig() if document is None else EventConfig.from_document(document)

    async def put_config(self, function: str, qualifier: str, document: dict[str, Any] | None) -> None:
        """Store (or with None, remove) a qualifier's config; it applies to events delivered from now on."""
        if document is None:
            await self._writer.call(lambda conn: queue.delete_config(conn, function, qualifier))
            self.configs.pop((function, qualifier), None)
        else:
            await self._writer.call(lambda conn: queue.put_config(conn, function, qualifier, document))
            self.configs[(function, qualifier)] = document

    def forget(self, function: str) -> int:
        """A deleted function: its configs and its waiting events go with it, as on Lambda (a delivery
        running now is dropped when it ends). Returns how many waiting events were dropped."""
        states = self.queue.setdefault(function, Counter())
        waiting = sum(states[state] for state in queue.WAITING)

        def drop(conn: Any) -> None:
            queue.delete_config(conn, function)
            queue.drop_waiting(conn, function)
            if waiting:
                queue.bump(conn, function, "dropped", waiting)

        self._writer.submit(drop)
        for key in [key for key in self.configs if key[0] == function]:
            self.configs.pop(key)
        for state in queue.WAITING:
            states[state] = 0
        self.counts.setdefault(function, Counter())["dropped"] += waiting
        self._deleted.add(function)
        return waiting

    def revive(self, function: str) -> None:
        """A function of that name exists (again): its events are delivered."""
        self._deleted.discard(function)

    # --- polling ---------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        while self._claiming:
            self._wake.clear()  # before looking: a wake-up while we look is not lost
            room = MAX_RUNNING - len(self._running)
            claimed: list[QueuedEvent] = []
            if room > 0:
                claimed = await self._writer.call(partial(queue.claim, now=self._clock(), limit=room))
            for event in claimed:
                states = self.queue.setdefault(event.function, Counter())
                states[event.state] -= 1
                states["running" if event.state == "queued" else "writing"] += 1
                task = asyncio.ensure_future(self._deliver(event))
                self._running[event.request_id] = task
                task.add_done_callback(partial(self._finished, event.request_id))
            if claimed and len(claimed) == room:
                continue  # more may be due right now
            due = await self._writer.call(queue.next_due)
            delay = IDLE_POLL_S if due is None else min(IDLE_POLL_S, max(0.0, due - self._clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _finished(self, request_id: str, _task: object = None) -> None:
        self._running.pop(request_id, None)
        self._wake.set()

    async def _deliver(self, event: QueuedEvent) -> None:
        try:
            if event.state == "destination":
                await self._write_held(event)
            else:
                await self._attempt(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: logged in full, and the event is never lost: it is tried again later
            log.exception("coldlab serve: delivering Event %s failed", event.request_id)
            await self._backoff(event, "system_errors", Outcome(500, "$LATEST", None, None))

    async def _commit(
        self,
        event: QueuedEvent,
        change: Callable[[Any], None],
        counters: tuple[str, ...],
        moves: tuple[str, str | None],
    ) -> None:
        """One transaction: the row's change and its counters; then the in-memory copies follow."""

        def work(conn: Any) -> None:
            change(conn)
            for name in counters:
                queue.bump(conn, event.function, name)

        await self._writer.call(work)
        counts = self.counts.setdefault(event.function, Counter())
        for name in counters:
            counts[name] += 1
        old, new = moves
        states = self.queue.setdefault(event.function, Counter())
        if states[old] > 0:
            states[old] -= 1
        if new is not None:
            states[new] += 1

    async def _attempt(self, event: QueuedEvent) -> None:  # noqa: PLR0911 (one return per outcome of the policy)
        config = self.config(event.function, event.qualifier)
        deadline = event.accepted_at + config.max_age_s * self.scale
        if self._clock() > deadline:
            await self._fail(event, "EventAgeExceeded", event_outcome(event), ())
            return
        version = self._executed(event.function, event.qualifier)
        if self._reserved(event.function) == 0:  # no retries: straight to the failure destination
            body = b'{"errorType":"TooManyRequestsException","errorMessage":"Rate Exceeded."}'
            await self._fail(event, "RetriesExhausted", Outcome(429, version, None, body), ("throttled",))
            return
        if event.function in self._deleted:
            self._say(f"Event {event.request_id} of {event.function} dropped: the function was deleted")
            await self._commit(
                event, lambda conn: queue.finish(conn, event.request_id), ("dropped",), ("running", None)
            )
            return
        try:
            result = await self._invoke(event)
        except TooManyRequests as exc:
            await self._backoff(event, "throttled", error_outcome(version, 429, exc))
            return
        except ResourceNotFound as exc:  # not served (yet): it may be created again before the age runs out
            if event.function not in self._waiting_for:
                self._waiting_for.add(event.function)
                self._say(
                    f"Event invokes of {event.function} wait: {exc.message} (serve or create it again; "
                    "they expire after MaximumEventAgeInSeconds)"
                )
            await self._backoff(event, "system_errors", error_outcome(version, 404, exc))
            return
        except ColdlabError as exc:
            await self._backoff(event, "system_errors", error_outcome(version, 500, exc))
            return
        self._waiting_for.discard(event.function)
        event = replace(event, invokes=event.invokes + 1)
        outcome = Outcome(200, version, result.function_error, result.payload)
        if result.ok:
            await self._settle(event, config.on_success, "Success", outcome, ("invokes", "succeeded"))
            return
        if event.retries >= config.max_retries:
            await self._fail(event, "RetriesExhausted", outcome, ("invokes",))
            return
        delay = RETRY_BASE_S * (event.retries + 1) * self.scale
        now = self._clock()
        if now + delay > deadline:
            await self._fail(event, "EventAgeExceeded", outcome, ("invokes",))
            return
        retried = replace(event, due_at=now + delay, retries=event.retries + 1, outcome=outcome_json(outcome))
        await self._commit(
            event, lambda conn: queue.requeue(conn, retried), ("invokes", "retries"), ("running", "queued")
        )

    async def _backoff(self, event: QueuedEvent, counter: str, outcome: Outcome) -> None:
        """A throttle or platform error: back to the queue, 1 s doubling to 5 min, within the event's age."""
        config = self.config(event.function, event.qualifier)
        deadline = event.accepted_at + config.max_age_s * self.scale
        backoff = next_backoff(event.backoff_s)
        now = self._clock()
        if now + backoff * self.scale > deadline:
            await self._fail(event, "EventAgeExceeded", outcome, (counter,))
            return
        again = replace(
            event, due_at=now + backoff * self.scale, backoff_s=backoff, outcome=outcome_json(outcome)
        )
        await self._commit(event, lambda conn: queue.requeue(conn, again), (counter,), ("running", "queued"))

    async def _fail(
        self, event: QueuedEvent, condition: str, outcome: Outcome, counters: tuple[str, ...]
    ) -> None:
        destination = self.config(event.function, event.qualifier).on_failure
        if condition == "EventAgeExceeded":
            counters = (*counters, "expired")
        if destination is None:
            self._say(
                f"Event {event.request_id} of {event.function} dropped: {condition} "
                "(no OnFailure destination)"
            )
            counters = (*counters, "dropped")
        await self._settle(event, destination, condition, outcome, counters)

    async def _settle(
        self,
        event: QueuedEvent,
        destination: Destination | None,
        condition: str,
        outcome: Outcome,
        counters: tuple[str, ...],
    ) -> None:
        """The event's last step: its record to `destination` (when there is one), then out of the queue."""
        if destination is None:
            await self._commit(
                event, lambda conn: queue.finish(conn, event.request_id), counters, ("running", None)
            )
            return
        record = destination_record(
            condition=condition,
            request_id=event.request_id,
            function_arn=self._arn(event.function, event.qualifier),
            invoke_count=event.invokes,
            payload=event.payload,
            status_code=outcome.status_code,
            executed_version=outcome.executed_version,
            function_error=outcome.function_error,
            response=outcome.response,
        )
        held = {
            "kind": "OnSuccess" if condition == "Success" else "OnFailure",
            "counter": "on_success" if condition == "Success" else "to_destination",
            "record": record,
        }
        await self._write(event, destination, held, counters, "running")

    async def _write(
        self,
        event: QueuedEvent,
        destination: Destination,
        held: dict[str, Any],
        counters: tuple[str, ...],
        state: str,
    ) -> None:
        try:
            await asyncio.to_thread(write_record, destination, held["record"])
        except OSError as exc:
            await self._hold(event, destination, held, counters, state=state, exc=exc)
            return
        if self.problems.pop(destination.raw, None) is not None:
            self._say(f"destination {destination.describe()} is writable again")
        await self._commit(
            event,
            lambda conn: queue.finish(conn, event.request_id),
            (*counters, str(held["counter"])),
            (state, None),
        )

    async def _hold(
        self,
        event: QueuedEvent,
        destination: Destination,
        held: dict[str, Any],
        counters: tuple[str, ...],
        *,
        state: str,
        exc: OSError,
    ) -> None:
        """The record cannot be written: it stays in the queue with its event, tried again with backoff."""
        error = f"{exc.strerror or exc}: {exc.filename or destination.path}"
        known = self.problems.get(destination.raw)
        if known is None or known["error"] != error:
            self._say(
                f"cannot write to destination {destination.describe()} of {event.function} ({error}): "
                "its records stay in the queue and are written once it is writable"
            )
        self.problems[destination.raw] = {
            "function": event.function,
            "destination": destination.raw,
            "error": error,
            "since": known["since"] if known else self._clock(),
        }
        backoff = next_backoff(event.backoff_s)
        kept = replace(
            event, due_at=self._clock() + backoff * self.scale, backoff_s=backoff, outcome=compact_json(held)
        )
        await self._commit(
            event, lambda conn: queue.hold_for_destination(conn, kept), counters, (state, "destination")
        )

    async def _write_held(self, event: QueuedEvent) -> None:
        """A record kept for its destination: written to the destination configured now."""
        held = event.record()
        config = self.config(event.function, event.qualifier)
        destination = config.on_success if held.get("kind") == "OnSuccess" else config.on_failure
        if destination is None:  # the destination was removed meanwhile: nothing to write to
            await self._commit(
                event, lambda conn: queue.finish(conn, event.request_id), ("dropped",), ("writing", None)
            )
            return
        await self._write(event, destination, held, (), "writing")

    # --- status ---------------------------------------------------------------------------------------

    def snapshot(self, function: str) -> dict[str, Any]:
        states = self.queue.get(function, Counter())
        counts = self.counts.get(function, Counter())
        return {
            "queued": states["queued"],
            "running": states["running"],
            "held_for_destination": states["destination"] + states["writing"],
            "counts": {name: counts[name] for name in queue.COUNTERS},
        }
