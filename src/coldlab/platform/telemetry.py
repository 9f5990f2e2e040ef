"""Telemetry delivery: each subscription's records POSTed to its HTTP destination in batches, in the
background, so the function never waits for a subscriber (runtime/telemetry.py holds the pure parts).

A batch goes when the buffer is full or its oldest record waited `timeoutMs`; one delivery at a time per
subscriber. A destination that refuses, errs or is slow loses the batch, and what arrives meanwhile beyond one
batch's worth is dropped: both are counted and reported by `platform.logsDropped` in the next batch that
gets through. While the sandbox is frozen nothing is sent (the subscriber could not answer); what waits is
sent after the thaw, as Lambda delivers an invoke's platform.report during the next one or at shutdown.
Records from the start of init are kept until init ends, for extensions that subscribe during it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp

from coldlab.logs.text import iso_now
from coldlab.runtime.telemetry import Subscription, TelemetryBuffer, record, type_family

DELIVERY_TIMEOUT_S = 1.0  # one POST; a destination slower than this loses the batch (counted)
QUIESCE_S = 0.1  # at a freeze, how long a delivery under way may finish first
BACKLOG_MAX = 1_000  # init records kept for late subscribers


def _now_ms() -> float:
    return time.monotonic() * 1000


class _Sink:
    """One subscription: its buffer and the task that delivers it."""

    def __init__(self, hub: TelemetryHub, subscription: Subscription) -> None:
        self.hub = hub
        self.subscription = subscription
        self.buffer = TelemetryBuffer(subscription.buffering)
        self.wake = asyncio.Event()
        self.delivering: asyncio.Task[bool] | None = None
        self.delivered = 0  # records that reached the destination
        self.task = asyncio.create_task(self._run())

    def wants(self, kind: str) -> bool:
        return type_family(kind) in self.subscription.types

    def add(self, line: str) -> None:
        self.buffer.add(line, _now_ms())
        self.wake.set()

    async def _run(self) -> None:
        while True:
            self.wake.clear()
            if self.hub.paused:
                await self.hub.resumed.wait()
                continue
            now = _now_ms()
            if self.buffer.due(now) or (
                self.hub.flushing and (self.buffer.items or self.buffer.dropped_records)
            ):
                await self.deliver()
                continue
            due = self.buffer.next_due_ms()
            timeout = None if due is None else max(0.0, (due - now) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def deliver(self) -> bool:
        batch = self.buffer.take(iso_now())
        if batch is None:
            return True
        self.delivering = asyncio.create_task(self.hub.post(self.subscription.url, batch.body()))
        try:
            ok = await asyncio.shield(self.delivering)
        except asyncio.CancelledError:
            self.buffer.give_back(batch)
            raise
        finally:
            self.delivering = None
        if ok:
            self.delivered += len(batch.records)
        else:
            self.buffer.give_back(batch)
        return ok


class TelemetryHub:
    """The subscriptions of one sandbox and their delivery."""

    def __init__(self) -> None:
        self._sinks: list[_Sink] = []
        self._backlog: list[tuple[str, str]] | None = []  # (type, line) since init began; None once it ended
        self._session: aiohttp.ClientSession | None = None
        self.paused = False
        self.resumed = asyncio.Event()
        self.resumed.set()
        self.flushing = False

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(sink.subscription for sink in self._sinks)

    @property
    def dropped_records(self) -> int:
        return sum(sink.buffer.total_dropped_records for sink in self._sinks)

    def subscribe(self, subscription: Subscription) -> None:
        """A new (or renewed: it replaces the extension's old one) subscription, given the init backlog."""
        for sink in [s for s in self._sinks if s.subscription.extension == subscription.extension]:
            sink.task.cancel()
            self._sinks.remove(sink)
        sink = _Sink(self, subscription)
        self._sinks.append(sink)
        for kind, line in self._backlog or ():
            if sink.wants(kind):
                sink.add(line)

    def end_backlog(self) -> None:
        self._backlog = None

    @property
    def listening(self) -> bool:
        """Whether a record emitted now would go anywhere (a subscriber, or the init backlog)."""
        return bool(self._sinks) or self._backlog is not None

    def emit(self, kind: str, body: Any) -> None:
        """One record for every subscriber of its type; never waits."""
        if not self.listening:
            return
        line = record(iso_now(), kind, body)
        if self._backlog is not None and len(self._backlog) < BACKLOG_MAX:
            self._backlog.append((kind, line))
        for sink in self._sinks:
            if sink.wants(kind):
                sink.add(line)

    async def post(self, url: str, body: bytes) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S))
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as reply:
                await reply.read()
                return reply.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def pause(self) -> None:
        """Before a freeze: start nothing new, and give a delivery under way a moment to finish."""
        self.paused = True
        self.resumed.clear()
        under_way = [sink.delivering for sink in self._sinks if sink.delivering is not None]
        if under_way:
            await asyncio.wait(under_way, timeout=QUIESCE_S)

    def resume(self) -> None:
        self.paused = False
        self.resumed.set()

    async def flush(self, timeout_s: float) -> None:
        """Send everything waiting now (before SHUTDOWN), waiting at most `timeout_s`."""
        self.resume()
        self.flushing = True
        for sink in self._sinks:
            sink.wake.set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(
            sink.buffer.items or sink.buffer.dropped_records or sink.delivering for sink in self._sinks
        ):
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        for sink in self._sinks:
            sink.task.cancel()
        await asyncio.gather(*(sink.task for sink in self._sinks), return_exceptions=True)
        self._sinks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
