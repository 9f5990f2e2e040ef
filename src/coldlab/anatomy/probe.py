"""A Host that wraps the real one: it notes when each bootstrap is exec'd, and can put strace on it first.

The environment's own timings start at its exec call; the anatomy also needs that instant on the same clock
as the bootstrap's output lines (to place the Go runtime's start between them). Everything else is the real
host's: the limits, freeze, CPU quota and isolation are exactly what `coldlab invoke` gets.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from coldlab.sandbox import Fidelity, Host, Limits, PreparedSandbox, Sandbox
from coldlab.sandbox.host import Child

Attach = Callable[[int], Awaitable[None]]  # attach a tracer to the waiting process before its exec


class ProbeHost:
    """Delegates to `inner`; `exec_times` gets the monotonic (perf_counter) time of each bootstrap's exec."""

    def __init__(self, inner: Host, attach: Attach | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.attach = attach
        self.exec_times: list[float] = []

    def fidelity(self, limits: Limits) -> Fidelity:
        return self.inner.fidelity(limits)

    async def prepare(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        limits: Limits,
        output_fd: int,
        *,
        opt_dir: Path | None = None,
    ) -> PreparedSandbox:
        prepared = await self.inner.prepare(argv, env, cwd, limits, output_fd, opt_dir=opt_dir)
        return _ProbedSandbox(prepared, self)

    async def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, limits: Limits, output_fd: int
    ) -> Sandbox:
        return await (await self.prepare(argv, env, cwd, limits, output_fd)).start()


class _ProbedSandbox:
    def __init__(self, inner: PreparedSandbox, host: ProbeHost) -> None:
        self._inner = inner
        self._host = host

    @property
    def sandbox(self) -> Sandbox:
        return self._inner.sandbox

    async def start(self) -> Sandbox:
        if self._host.attach is not None:
            await self._host.attach(self._inner.sandbox.process.pid)
        self._host.exec_times.append(time.perf_counter())
        return await self._inner.start()

    async def start_companion(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, output_fd: int
    ) -> Child:
        return await self._inner.start_companion(argv, env, cwd, output_fd)

    def discard(self) -> None:
        self._inner.discard()
