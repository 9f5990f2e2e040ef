"""The platform events an environment waits on (the Runtime API's effects, the runtime's exit, an
extension's exit), in a queue whose timed wait costs no task."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from coldlab.platform.extensions import ExtensionExited
from coldlab.runtime.server import PlatformEffect


@dataclass(frozen=True)
class Exited:
    returncode: int


Event = PlatformEffect | Exited | ExtensionExited


class EventQueue(asyncio.Queue[Event]):
    """The environment's platform events, with a timed wait that costs no task.

    `asyncio.wait_for(queue.get(), t)` wraps the get in a Task on Python 3.11 (a task, a waiter and a loop
    hop per event, three or more events per invoke); `next_before` waits on one future and one timer."""

    def __init__(self) -> None:
        super().__init__()
        self._waiter: asyncio.Future[None] | None = None

    def _put(self, item: Event) -> None:  # the hook asyncio.Queue's own subclasses override
        super()._put(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_before(self, deadline: float) -> Event | None:
        """The next event, or None when the perf_counter `deadline` passes first."""
        if self.empty():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return None
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(remaining, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            if self.empty():
                return None
        return self.get_nowait()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
