"""The spare sandbox: the next cold start's sandbox, prepared in the background before the invoke needs it.

Lambda keeps execution environments ready rather than building one when an invoke arrives; coldlab does the
same with one spare per environment. The cgroups are made and joined, the mounts set up and the user switched,
so a cold start only execs the bootstrap. Nothing of the function runs in a spare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Protocol, TypeVar


class Preparation(Protocol):
    """What a spare holds: something prepared that can die while it waits, and be given up."""

    @property
    def alive(self) -> bool: ...

    def discard(self) -> None: ...


P = TypeVar("P", bound=Preparation)


class Spare(Generic[P]):
    """At most one sandbox in preparation or ready; `make` prepares one."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, P]], *, enabled: bool = True) -> None:
        self._make = make
        self.enabled = enabled
        self._task: asyncio.Task[P] | None = None
        self._closed = False

    @property
    def pending(self) -> asyncio.Task[P] | None:
        """The preparation under way or done, if any (tests look at it)."""
        return self._task

    def refill(self) -> None:
        """Start preparing a spare in the background, unless one exists, spares are off, or it is closed."""
        if self.enabled and not self._closed and self._task is None:
            self._task = asyncio.create_task(self._make())

    async def ready(self) -> None:
        """Wait for the preparation under way; its failure, if any, is raised by `take`."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def take(self) -> P:
        """The spare (waiting for it if still in preparation), or a sandbox prepared now."""
        task, self._task = self._task, None
        if task is not None:
            prepared = await task
            if prepared.alive:
                return prepared
            prepared.discard()  # it died waiting (its zygote was killed, say): make another
        return await self._make()

    def close(self) -> None:
        """Discard the spare (or its preparation, once done); no more are made."""
        self._closed = True
        task, self._task = self._task, None
        if task is None:
            return
        if task.done():
            _discard(task)
        else:
            task.cancel()
            task.add_done_callback(_discard)


def _discard(task: asyncio.Task[Any]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    task.result().discard()
