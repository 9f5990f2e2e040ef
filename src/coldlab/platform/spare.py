"""The spare sandbox: the next cold start's sandbox, prepared in the background before the invoke needs it.

Lambda keeps execution environments ready rather than building one when an invoke arrives; coldlab does the
same with one spare per environment. The cgroups are made and joined, the mounts set up and the user switched,
so a cold start only execs the bootstrap. Nothing of the function runs in a spare.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from coldlab.platform.output import OutputPipe
from coldlab.sandbox import PreparedSandbox

Prepared = tuple[PreparedSandbox, OutputPipe]


class Spare:
    """At most one sandbox in preparation or ready; `make` prepares one (and the pipe its output goes to)."""

    def __init__(self, make: Callable[[], Coroutine[Any, Any, Prepared]], *, enabled: bool = True) -> None:
        self._make = make
        self.enabled = enabled
        self._task: asyncio.Task[Prepared] | None = None
        self._closed = False

    @property
    def pending(self) -> asyncio.Task[Prepared] | None:
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

    async def take(self) -> Prepared:
        """The spare (waiting for it if still in preparation), or a sandbox prepared now."""
        task, self._task = self._task, None
        if task is not None:
            prepared, output = await task
            if prepared.sandbox.process.returncode is None:
                return prepared, output
            prepared.discard()  # it died waiting (its zygote was killed, say): make another
            output.close()
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


def _discard(task: asyncio.Task[Prepared]) -> None:
    if task.cancelled() or task.exception() is not None:
        return
    prepared, output = task.result()
    prepared.discard()
    output.close()
