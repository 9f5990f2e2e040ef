"""Starting a bootstrap with a ChildSetup, and what every cgroup host shares (limits check, CPU quota)."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from coldlab.config import EPHEMERAL_MAX_MB, EPHEMERAL_MIN_MB, MEMORY_MAX_MB, MEMORY_MIN_MB
from coldlab.errors import SandboxError, UsageError
from coldlab.sandbox.host import Limits
from coldlab.sandbox.isolation import ChildSetup, FunctionUser, child_setup, interpreter_reveal, relocate

CFS_PERIOD_US = 20_000  # short periods keep short invokes honest: 128 MB still gets 1.45 ms each 20 ms
CFS_MIN_QUOTA_US = 1_000  # the kernel's floor
VISIBILITIES = ("parent", "leaf")


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


def same_user_text() -> str:
    why = "isolation turned off" if os.geteuid() == 0 else "coldlab is not root"
    return f"same-user ({why})"


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
) -> tuple[Sequence[str], Mapping[str, str], Path, ChildSetup]:
    """argv/env/cwd as the child must see them, and its setup: join cgroups; with `user`, isolate too."""
    setup = ChildSetup(cgroup_procs=cgroup_procs, late_cgroup_procs=late_cgroup_procs, limits=limits)
    if user is None:
        return argv, env, cwd, setup
    setup = replace(
        setup,
        tmp_size_mb=limits.ephemeral_storage_mb,
        user=user,
        rlimit_nproc=not pids_limited,
        reveal=interpreter_reveal(Path(argv[0]), user) if argv else None,
    )
    if Path(env.get("LAMBDA_TASK_ROOT") or cwd) == Path("/"):
        return argv, env, cwd, setup  # a plain command: no code directory to show at /var/task
    moved = relocate(argv, env, cwd)
    return moved.argv, moved.env, Path("/"), replace(setup, relocation=moved)


async def spawn_process(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    output_fd: int,
    setup: ChildSetup,
) -> asyncio.subprocess.Process:
    """create_subprocess_exec with `setup` run between fork and exec; a failed setup says why."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)  # closed by exec on success, so it only carries failures
    setup = replace(setup, errors_fd=write_fd)
    try:
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                env=dict(env),
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output_fd,
                stderr=output_fd,
                start_new_session=True,
                preexec_fn=child_setup(setup),
            )
        finally:
            os.close(write_fd)
    except OSError as exc:  # exec itself failed: missing file, not executable
        raise SandboxError(f"cannot start {argv[0]}: {exc.strerror or exc}", _why(read_fd)) from exc
    except Exception as exc:  # the child's setup raised (subprocess.SubprocessError)
        raise SandboxError(f"cannot prepare the sandbox for {argv[0]}: {_why(read_fd) or exc}") from exc
    finally:
        os.close(read_fd)


def _why(read_fd: int) -> str | None:
    """What the child wrote before failing (the pipe's write ends are all closed by now)."""
    try:
        os.set_blocking(read_fd, False)
        data = os.read(read_fd, 2000)
    except OSError:
        return None
    return data.decode(errors="replace") or None
