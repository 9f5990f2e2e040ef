"""The unprivileged fallback host: process groups, SIGSTOP/SIGCONT and rlimits; CPU and memory not limited.

Works for any user on any Linux. It is what coldlab uses when cgroups are unavailable, and it says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from coldlab.sandbox.host import Child, Fidelity, Limits
from coldlab.sandbox.isolation import ChildSetup
from coldlab.sandbox.procfs import tree_peak_rss_bytes
from coldlab.sandbox.spawner import spawner
from coldlab.sandbox.spawning import PreparedSandbox, PreparingHost


class ProcessGroupSandbox:
    """A bootstrap in its own session/process group; frozen by signalling the whole group."""

    def __init__(self, process: Child) -> None:
        self._process = process
        self._pgids = [process.pid]  # each child called setsid (zygote.child_main): it leads its own group
        self._peak = 0
        self._companions: list[Child] = []

    @property
    def process(self) -> Child:
        return self._process

    def adopt(self, child: Child) -> None:
        """A companion (an extension) leads a group of its own: signal it with the rest."""
        self._pgids.append(child.pid)
        self._companions.append(child)

    def _signal(self, signum: int) -> None:
        for pgid in self._pgids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signum)

    def freeze(self) -> None:
        self._sample_peak()  # VmHWM of processes that exit while frozen would otherwise be lost
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def _sample_peak(self) -> None:
        total = sum(tree_peak_rss_bytes(child.pid) for child in (self._process, *self._companions))
        self._peak = max(self._peak, total)

    def reset_peak(self) -> None:
        self._peak = 0  # exec gave the bootstrap a fresh VmHWM

    def end_init(self) -> None:
        """No CPU quota here, so no init allowance to lift."""

    def peak_memory_bytes(self) -> int:
        self._sample_peak()
        return self._peak

    def kill(self) -> None:
        self._sample_peak()
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        self.kill()


class SignalHost(PreparingHost[ProcessGroupSandbox]):
    """Fallback host: SIGSTOP/SIGCONT freeze, RLIMIT_NOFILE, peak memory from /proc VmHWM."""

    name = "unprivileged"

    def __init__(self, reason: str = "cgroups are not in use") -> None:
        self.reason = reason

    def fidelity(self, limits: Limits) -> Fidelity:
        return Fidelity(
            freeze="sigstop-process-group",
            cpu=f"not-limited ({self.reason})",
            memory=f"not-limited ({self.reason})",
            memory_peak="proc-vmhwm (sum over the bootstrap and its descendants)",
            isolation="same-user (no separate user or /tmp)",
            notes=(f"CPU is not limited to {limits.vcpus:.2f} vCPU, so durations are faster than Lambda's",),
            host=self.name,
        )

    async def prepare(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        limits: Limits,
        output_fd: int,
        *,
        opt_dir: Path | None = None,
    ) -> PreparedSandbox[ProcessGroupSandbox]:
        setup = ChildSetup(limits=limits)
        prepared = await spawner().prepare(argv, env, cwd, output_fd, setup)
        return PreparedSandbox(ProcessGroupSandbox(prepared.child), prepared, setup, opt_dir)
