"""Starting a bootstrap with a ChildSetup, and what every cgroup host shares (limits check, CPU quota)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Generic, TypeVar

from coldlab.config import EPHEMERAL_MAX_MB, EPHEMERAL_MIN_MB, MEMORY_MAX_MB, MEMORY_MIN_MB
from coldlab.errors import UsageError
from coldlab.sandbox.host import Child, Limits, Sandbox
from coldlab.sandbox.isolation import ChildSetup, FunctionUser, interpreter_reveal, relocate
from coldlab.sandbox.spawner import PreparedChild, spawner

CFS_PERIOD_US = 20_000  # short periods keep short invokes honest: 128 MB still gets 1.45 ms each 20 ms
CFS_MIN_QUOTA_US = 1_000  # the kernel's floor
VISIBILITIES = ("parent", "leaf")
S = TypeVar("S", bound=Sandbox)


def host_cpus() -> int:
    """CPUs this process may run on (affinity, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def check_limits(limits: Limits) -> None:
    """Lambda's ranges; UsageError (exit 2) names the value and the range."""
    for what, value, low, high in (
        ("memory size", limits.memory_mb, MEMORY_MIN_MB, MEMORY_MAX_MB),
        ("ephemeral storage", limits.ephemeral_storage_mb, EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB),
    ):
        if not low <= value <= high:
            hint = f"use a whole number from {low} to {high} MB"
            raise UsageError(f"{what} {value} MB is out of range", hint)
    if limits.cpu_visibility not in VISIBILITIES:
        raise UsageError(
            f"CPU visibility {limits.cpu_visibility!r} is not known", "use --cpu-visibility parent or leaf"
        )


def isolation_text(user: FunctionUser | None, limits: Limits, tasks_by: str) -> str:
    """The fidelity text for isolation; `tasks_by` names what limits the tasks (pids cgroup, RLIMIT_NPROC)."""
    if user is None:
        why = "isolation turned off" if os.geteuid() == 0 else "coldlab is not root"
        return f"same-user ({why})"
    return (
        f"user {user.name} (uid {user.uid}), private /tmp tmpfs {limits.ephemeral_storage_mb} MB, "
        f"read-only /var/task, nofile {limits.max_open_files}, {limits.max_processes} tasks ({tasks_by})"
    )


def effective_vcpus(limits: Limits, cpus: int) -> float:
    """What the quota grants: memory/1769 vCPU, at most 6 and at most this machine's CPUs."""
    return min(limits.vcpus, float(cpus))


def cfs_quota_us(vcpus: float, period_us: int = CFS_PERIOD_US) -> int:
    return max(CFS_MIN_QUOTA_US, math.floor(vcpus * period_us))


def cpu_description(limits: Limits, cpus: int) -> tuple[str, tuple[str, ...]]:
    """The fidelity text for a CFS quota, and a note when the host's cores cap it."""
    vcpus = effective_vcpus(limits, cpus)
    where = "parent cgroup, hidden from the function" if limits.cpu_visibility == "parent" else "leaf cgroup"
    text = f"cfs-quota ({vcpus:.3f} vCPU = {cfs_quota_us(vcpus)}/{CFS_PERIOD_US} us, {where})"
    notes: tuple[str, ...] = ()
    if limits.vcpus > cpus:
        buys = f"{limits.memory_mb} MB buys {limits.vcpus:.2f} vCPU"
        notes = (f"{buys}; this machine has {cpus} CPUs: capped at {cpus}",)
    return text, notes


def isolated_setup(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    limits: Limits,
    *,
    cgroup_procs: tuple[Path, ...],
    late_cgroup_procs: tuple[Path, ...] = (),
    user: FunctionUser | None,
    pids_limited: bool,
    opt_dir: Path | None = None,
) -> tuple[Sequence[str], Mapping[str, str], Path, ChildSetup]:
    """argv/env/cwd as the child must see them, and its setup: join cgroups; with `user`, isolate too
    (`opt_dir`, the function's layers, then appears read-only at /opt)."""
    setup = ChildSetup(cgroup_procs=cgroup_procs, late_cgroup_procs=late_cgroup_procs, limits=limits)
    if user is None:
        return argv, env, cwd, setup
    setup = replace(
        setup,
        tmp_size_mb=limits.ephemeral_storage_mb,
        user=user,
        rlimit_nproc=not pids_limited,
        reveal=interpreter_reveal(Path(argv[0]), user) if argv else None,
        opt_source=str(opt_dir) if opt_dir is not None else None,
    )
    if Path(env.get("LAMBDA_TASK_ROOT") or cwd) == Path("/"):
        return argv, env, cwd, setup  # a plain command: no code directory to show at /var/task
    moved = relocate(argv, env, cwd, opt_dir)
    return moved.argv, moved.env, Path("/"), replace(setup, relocation=moved)


def companion_setup(  # noqa: PLR0917 - the runtime's setup plus what the companion runs
    runtime: ChildSetup,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    opt_dir: Path | None,
    pid: int,
) -> tuple[Sequence[str], Mapping[str, str], Path, ChildSetup]:
    """For another process of the runtime's sandbox (an external extension): the same cgroups, rlimits and
    user, and, when isolating, the mount namespace of the prepared runtime (`pid`), paths moved into it."""
    if runtime.user is None:
        return argv, env, cwd, runtime
    setup = replace(
        runtime, relocation=None, tmp_size_mb=None, reveal=None, opt_source=None, join_mounts_of=pid
    )
    moved = relocate(argv, env, cwd, opt_dir)
    moved_env = dict(moved.env)
    if "LAMBDA_TASK_ROOT" not in env:  # extensions do not see it (reference §6)
        del moved_env["LAMBDA_TASK_ROOT"]
    return moved.argv, moved_env, Path("/"), setup


class PreparingHost(Generic[S]):
    """A host's `spawn`, for hosts that implement `prepare`: the sandbox made on the caller's path."""

    async def prepare(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        limits: Limits,
        output_fd: int,
        *,
        opt_dir: Path | None = None,
    ) -> PreparedSandbox[S]:
        raise NotImplementedError

    async def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, limits: Limits, output_fd: int
    ) -> S:
        return await (await self.prepare(argv, env, cwd, limits, output_fd)).start()


class PreparedSandbox(Generic[S]):
    """A sandbox whose process is set up and waits to exec: `start` it when the invoke comes, or `discard`.
    Before that, `start_companion` may start other processes in it (external extensions)."""

    def __init__(
        self, sandbox: S, child: PreparedChild, setup: ChildSetup | None = None, opt_dir: Path | None = None
    ) -> None:
        self.sandbox = sandbox
        self._child = child
        self._setup = setup or ChildSetup()
        self._opt_dir = opt_dir

    async def start_companion(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, output_fd: int
    ) -> Child:
        """Start `argv` now in this sandbox (its cgroups, user and mounts), with host paths as the platform
        knows them; freeze and kill reach it with the rest. SandboxError if it cannot be started."""
        argv, env, cwd, setup = companion_setup(
            self._setup, argv, env, cwd, self._opt_dir, self._child.child.pid
        )
        prepared = await spawner().prepare(argv, env, cwd, output_fd, setup)
        child = await prepared.start()
        self.sandbox.adopt(child)
        return child

    async def start(self) -> S:
        """Exec the bootstrap; the memory peak then counts from the bootstrap, not from coldlab's set-up."""
        try:
            await self._child.start()
        except BaseException:
            self.sandbox.close()
            raise
        self.sandbox.reset_peak()
        return self.sandbox

    def discard(self) -> None:
        self._child.discard()
        self.sandbox.close()
