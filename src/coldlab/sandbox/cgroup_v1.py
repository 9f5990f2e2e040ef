"""The cgroup v1 host: freezer, CFS quota, memory limit without swap, pids limit, Lambda-like isolation.

Per environment: `<root>/<ctrl>/coldlab/<run>/<env>` for memory, freezer, pids and cpuacct, and for cpu a
two-level `<env>/fn` so the quota can sit on the parent (invisible to Go, as on Lambda) or on the leaf.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

from coldlab.errors import SandboxError
from coldlab.sandbox import cgroupfs
from coldlab.sandbox.host import Child, Fidelity, Limits
from coldlab.sandbox.initcpu import QuotaLift, init_cpu_text, init_quota_vcpus
from coldlab.sandbox.isolation import function_user
from coldlab.sandbox.procfs import StatusFiles, reset_peaks, sandbox_peak_bytes
from coldlab.sandbox.spawner import spawner
from coldlab.sandbox.spawning import (
    CFS_PERIOD_US,
    PreparedSandbox,
    PreparingHost,
    cfs_quota_us,
    check_limits,
    cpu_description,
    host_cpus,
    isolated_setup,
    isolation_text,
)

REQUIRED = ("cpu", "memory", "freezer")
OPTIONAL = ("cpuacct", "pids")
FREEZE_TIMEOUT_S = 5.0
OOM_POLL_S = 0.05
KILL_FREEZE_TIMEOUT_S = 0.5
MB = 1024 * 1024
# An empty cgroup kept FROZEN while the host lives. Since Linux 6.1 the v1 freezer flips a static key
# (kernel text patched on every CPU) whenever the number of freezing cgroups goes 0 <-> 1: with one cgroup
# always frozen, a freeze or thaw costs ~7 us instead of ~120 us (measured on this project's 6.18 VM).
ANCHOR = "frozen-anchor"


def _wait_state(fd: int, wanted: bytes, timeout_s: float = FREEZE_TIMEOUT_S) -> None:
    """Spin until the freezer reports `wanted` (FREEZING -> FROZEN takes microseconds for idle tasks)."""
    deadline = time.monotonic() + timeout_s
    spins = 0
    while os.pread(fd, 32, 0).strip() != wanted:
        spins += 1
        if spins > 100:
            if time.monotonic() > deadline:
                raise SandboxError(f"the freezer did not reach {wanted.decode()} within {timeout_s:.0f} s")
            time.sleep(0.0002)


def _set_state(fd: int, state: bytes) -> None:
    try:
        os.pwrite(fd, state, 0)
    except OSError as exc:
        raise SandboxError(f"cannot set the freezer to {state.decode()}: {exc.strerror}") from exc
    _wait_state(fd, state)


class CgroupV1Sandbox:
    """One bootstrap in its own set of v1 cgroups."""

    def __init__(self, host: CgroupV1Host, process: Child, dirs: dict[str, Path], limit_bytes: int) -> None:
        self._host = host
        self._limit = limit_bytes
        self._process = process
        self._dirs = dirs  # controller -> the environment's cgroup (cpu: the parent of the `fn` leaf)
        self._peak = 0
        self._cpu_ns = 0
        self._closed = False
        self.oom_killed = False
        self.init_lift: QuotaLift | None = None  # set by the host when init runs on an allowance
        self._oom_fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poll: asyncio.TimerHandle | None = None
        # Kept open: freeze, thaw and the peak are on every warm invoke's path; open/close would double them.
        self._state_fd = os.open(dirs["freezer"] / "freezer.state", os.O_RDWR | os.O_CLOEXEC)
        self._procs_fd = os.open(dirs["freezer"] / "cgroup.procs", os.O_RDONLY | os.O_CLOEXEC)
        self._usage_fd = os.open(dirs["memory"] / "memory.max_usage_in_bytes", os.O_RDONLY | os.O_CLOEXEC)
        self._oom_control_fd = os.open(dirs["memory"] / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        self._status = StatusFiles()
        self._frozen = False  # a frozen sandbox allocates nothing: the OOM poll skips it

    @property
    def process(self) -> Child:
        return self._process

    # --- freeze -------------------------------------------------------------------------------------------

    def freeze(self) -> None:
        if not self._closed:
            _set_state(self._state_fd, b"FROZEN")
            self._frozen = True

    def thaw(self) -> None:
        if not self._closed:
            _set_state(self._state_fd, b"THAWED")
            self._frozen = False

    # --- measure ------------------------------------------------------------------------------------------

    def _pids(self) -> list[int]:
        return [int(pid) for pid in os.pread(self._procs_fd, 1 << 16, 0).split()]

    def reset_peak(self) -> None:
        with contextlib.suppress(SandboxError):
            cgroupfs.write(self._dirs["memory"] / "memory.max_usage_in_bytes", "0")  # v1: now = current use
        reset_peaks(self._pids())
        self._peak = 0

    def end_init(self) -> None:
        lift, self.init_lift = self.init_lift, None
        if lift is not None and not self._closed:
            lift.apply()

    def peak_memory_bytes(self) -> int:
        """Since exec, kept after close: max_usage_in_bytes or a process's VmHWM (see sandbox_peak_bytes)."""
        if not self._closed:
            charged = int(os.pread(self._usage_fd, 32, 0))
            pids = self._pids()
            self._status.keep_only(pids)
            self._peak = max(self._peak, sandbox_peak_bytes(charged, pids, self._limit, self._status.peak))
        return self._peak

    def cpu_time_ns(self) -> int:
        """CPU time used by every process of the sandbox (cpuacct.usage), 0 where cpuacct is not mounted."""
        if not self._closed and "cpuacct" in self._dirs:
            self._cpu_ns = max(self._cpu_ns, cgroupfs.read_int(self._dirs["cpuacct"] / "cpuacct.usage"))
        return self._cpu_ns

    def cpu_throttling(self) -> dict[str, int]:
        """cpu.stat of the quota'd cgroup: nr_periods, nr_throttled, throttled_time (ns)."""
        return cgroupfs.keyed(self._dirs["cpu"] / "cpu.stat") if not self._closed else {}

    # --- OOM: Lambda kills the whole environment, the kernel only its largest task ------------------------

    def watch_oom(self, loop: asyncio.AbstractEventLoop) -> None:
        """React to the memcg OOM killer: an eventfd where the kernel notifies, and a 50 ms poll of the
        oom_kill counter because it does not notify for every kill (measured: about half are missed)."""
        self._loop = loop
        self._poll = loop.call_later(OOM_POLL_S, self._poll_oom)
        control = self._dirs["memory"] / "memory.oom_control"
        event_control = self._dirs["memory"] / "cgroup.event_control"
        try:
            efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        except OSError:
            return
        ofd = os.open(control, os.O_RDONLY | os.O_CLOEXEC)
        try:
            cgroupfs.write(event_control, f"{efd} {ofd}")
        except SandboxError:
            os.close(efd)
            return
        finally:
            os.close(ofd)
        self._oom_fd = efd
        loop.add_reader(efd, self._on_oom)

    def _poll_oom(self) -> None:
        if self._closed or self._loop is None:
            return
        if not self._frozen:
            self._on_oom()
        if not self._closed:
            self._poll = self._loop.call_later(OOM_POLL_S, self._poll_oom)

    def _on_oom(self) -> None:
        if self._oom_fd is not None:
            with contextlib.suppress(OSError):
                os.eventfd_read(self._oom_fd)
        if self.oom_killed or self._closed:
            return
        oom_control = os.pread(self._oom_control_fd, 256, 0).decode()
        if cgroupfs.parse_keyed(oom_control).get("oom_kill", 0) > 0:
            self.oom_killed = True
            self.peak_memory_bytes()
            self.kill()

    def _stop_oom_watch(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        if self._oom_fd is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._oom_fd)
            os.close(self._oom_fd)
            self._oom_fd = None

    # --- kill and clean up -------------------------------------------------------------------------------

    def kill(self) -> None:
        """Freeze (no forks can race us), SIGKILL every task, thaw so they die. Safe to repeat."""
        if self._closed:
            return
        self.peak_memory_bytes()
        self.cpu_time_ns()
        _freeze_kill_tree(self._dirs["freezer"])  # not freeze()/thaw(): this must happen whatever they do

    def adopt(self, child: Child) -> None:
        """Nothing to do: the child joined this sandbox's cgroups before it exec'd."""

    def close(self) -> None:
        if self._closed:
            return
        self.kill()
        self._stop_oom_watch()
        self._closed = True
        self._status.close()
        for fd in (self._state_fd, self._procs_fd, self._usage_fd, self._oom_control_fd):
            os.close(fd)
        self._host.release(self)

    @property
    def cgroup_dirs(self) -> Mapping[str, Path]:
        return dict(self._dirs)


class CgroupV1Host(PreparingHost[CgroupV1Sandbox]):
    """Sandboxes in cgroup v1 hierarchies (this is what most Docker-era machines and CI runners have)."""

    name = "cgroup-v1"

    def __init__(
        self,
        root: Path = Path("/sys/fs/cgroup"),
        *,
        isolate: bool | None = None,
        cpus: int | None = None,
        reason: str = "",
    ) -> None:
        self.root = root
        self.reason = reason or f"cgroup v1 cpu, memory and freezer are writable under {root}"
        mounted = [c for c in (*REQUIRED, *OPTIONAL) if (root / c / "cgroup.procs").exists()]
        self.hierarchies = {c: root / c for c in mounted}
        missing = [c for c in REQUIRED if c not in self.hierarchies]
        if missing:
            raise SandboxError(f"cgroup v1 controllers {', '.join(missing)} are not mounted under {root}")
        self.parents = self._unique_parents()
        for parent in self.parents.values():
            why = cgroupfs.writable_reason(parent)
            if why:
                raise SandboxError(why)
        self.cpus = cpus or host_cpus()
        self.stale_removed = cgroupfs.remove_stale_runs(self.parents.values(), self._freeze_kill_run)
        self.run = cgroupfs.run_name()
        self.user = function_user(isolate)
        self._live: set[CgroupV1Sandbox] = set()
        self._pending: set[Path] = set()  # env dirs whose rmdir waited on dying tasks
        self.anchored = False  # whether this run's frozen anchor cgroup is in place (see ANCHOR)
        # Runs at interpreter exit too (weakref.finalize's atexit), so a normal exit or Ctrl-C leaves nothing.
        weakref.finalize(self, _cleanup_run, dict(self.parents), self.run, self._live, self._pending)

    def _unique_parents(self) -> dict[str, Path]:
        """One `coldlab/` per distinct hierarchy (cpu and cpuacct are often co-mounted)."""
        seen: dict[str, str] = {}
        parents: dict[str, Path] = {}
        for ctrl, path in self.hierarchies.items():
            real = os.path.realpath(path)
            if real not in seen.values():
                seen[ctrl] = real
                parents[ctrl] = path / cgroupfs.PARENT
            else:  # same mount as an earlier controller: share its directory
                parents[ctrl] = next(p for c, p in parents.items() if seen.get(c) == real)
        return parents

    def _freeze_kill_run(self, name: str) -> None:
        _freeze_kill_tree(self.parents["freezer"] / name)

    # --- fidelity ------------------------------------------------------------------------------------------

    def fidelity(self, limits: Limits) -> Fidelity:
        cpu, notes = cpu_description(limits, self.cpus)
        tasks = "pids cgroup" if "pids" in self.hierarchies else "RLIMIT_NPROC"
        if self.user is not None:
            notes += ("the private /tmp is a tmpfs: what the function writes there counts as its memory",)
        return Fidelity(
            freeze="cgroup-v1-freezer",
            cpu=cpu,
            memory=f"cgroup-v1-memory ({limits.memory_mb} MB hard limit, no swap, OOM kills the environment)",
            memory_peak="cgroup-v1 memory.max_usage_in_bytes, or the largest process VmHWM when higher",
            isolation=isolation_text(self.user, limits, tasks),
            notes=notes,
            host=self.name,
            init_cpu=init_cpu_text(limits, self.cpus),
        )

    # --- spawn ---------------------------------------------------------------------------------------------

    def _hold_freezer_key(self) -> None:
        """Freeze an empty cgroup of this run once, so later freezes and thaws never toggle the kernel's
        freezer static key; removed with the run. Without it freezing still works, only slower."""
        if self.anchored:
            return
        anchor = self.parents["freezer"] / self.run / ANCHOR
        with contextlib.suppress(OSError, SandboxError):
            cgroupfs.make_dirs(anchor)
            cgroupfs.write(anchor / "freezer.state", "FROZEN")
            self.anchored = True

    def _make_cgroups(self, limits: Limits) -> dict[str, Path]:
        self._hold_freezer_key()
        env_name = cgroupfs.new_env_name()
        dirs: dict[str, Path] = {}
        for ctrl, parent in self.parents.items():
            dirs[ctrl] = parent / self.run / env_name
            cgroupfs.make_dirs(dirs[ctrl])
        cgroupfs.make_dirs(dirs["cpu"] / "fn")
        quota = cfs_quota_us(init_quota_vcpus(limits, self.cpus)[0])  # lifted at the first /next
        quota_dir = dirs["cpu"] if limits.cpu_visibility == "parent" else dirs["cpu"] / "fn"
        cgroupfs.write(quota_dir / "cpu.cfs_period_us", str(CFS_PERIOD_US))
        cgroupfs.write(quota_dir / "cpu.cfs_quota_us", str(quota))
        memory, size = dirs["memory"], str(limits.memory_mb * MB)
        cgroupfs.write(memory / "memory.limit_in_bytes", size)
        if (memory / "memory.memsw.limit_in_bytes").exists():  # swap accounting on: memory+swap = memory
            cgroupfs.write(memory / "memory.memsw.limit_in_bytes", size)
        cgroupfs.write(memory / "memory.swappiness", "0")
        if "pids" in dirs:
            cgroupfs.write(dirs["pids"] / "pids.max", str(limits.max_processes))
        return dirs

    def _procs_files(self, dirs: Mapping[str, Path]) -> tuple[tuple[Path, ...], tuple[Path, ...]]:
        """cgroup.procs to join first (memory, freezer, pids) and last (cpu leaf, cpuacct)."""
        late = {dirs["cpu"] / "fn" / "cgroup.procs"}
        if "cpuacct" in dirs and dirs["cpuacct"] != dirs["cpu"]:
            late.add(dirs["cpuacct"] / "cgroup.procs")
        first = {d / "cgroup.procs" for c, d in dirs.items() if c not in ("cpu", "cpuacct")}
        return tuple(sorted(first)), tuple(sorted(late))

    async def prepare(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        limits: Limits,
        output_fd: int,
        *,
        opt_dir: Path | None = None,
    ) -> PreparedSandbox[CgroupV1Sandbox]:
        check_limits(limits)
        dirs = self._make_cgroups(limits)
        first, late = self._procs_files(dirs)
        try:
            argv, env, cwd, setup = isolated_setup(
                argv,
                env,
                cwd,
                limits,
                cgroup_procs=first,
                late_cgroup_procs=late,
                user=self.user,
                pids_limited="pids" in dirs,
                opt_dir=opt_dir,
            )
            prepared = await spawner().prepare(argv, env, cwd, output_fd, setup)
        except BaseException:
            for directory in {*dirs.values(), dirs["cpu"] / "fn"}:
                cgroupfs.remove_tree(directory)
            raise
        sandbox = CgroupV1Sandbox(self, prepared.child, dirs, limits.memory_mb * MB)
        during, after = init_quota_vcpus(limits, self.cpus)
        if during > after:
            where = dirs["cpu"] if limits.cpu_visibility == "parent" else dirs["cpu"] / "fn"
            sandbox.init_lift = QuotaLift(where / "cpu.cfs_quota_us", str(cfs_quota_us(after)))
        self._live.add(sandbox)
        sandbox.watch_oom(asyncio.get_running_loop())
        return PreparedSandbox(sandbox, prepared, setup, opt_dir)

    def release(self, sandbox: CgroupV1Sandbox) -> None:
        """Remove a closed sandbox's cgroups (now, or at exit if tasks are still dying)."""
        self._live.discard(sandbox)
        for directory in sandbox.cgroup_dirs.values():
            if not cgroupfs.remove_tree(directory, timeout_s=0.2):
                self._pending.add(directory)
        for directory in list(self._pending):
            if cgroupfs.remove_tree(directory, timeout_s=0):
                self._pending.discard(directory)

    def close(self) -> None:
        """Kill every sandbox still open and remove this run's cgroups (also runs at interpreter exit)."""
        _cleanup_run(dict(self.parents), self.run, self._live, self._pending)


def _cleanup_run(parents: dict[str, Path], run: str, live: set[CgroupV1Sandbox], pending: set[Path]) -> None:
    for sandbox in list(live):
        with contextlib.suppress(Exception):
            sandbox.close()
    pending.clear()
    _freeze_kill_tree(parents["freezer"] / run)
    for parent in set(parents.values()):
        cgroupfs.kill_pids(cgroupfs.pids_in(parent / run))
        cgroupfs.remove_tree(parent / run, timeout_s=2.0)
        cgroupfs.remove_if_empty(parent)


def _freeze_kill_tree(top: Path) -> None:
    """Freeze `top` (no fork can race the kill), SIGKILL every task below it, then thaw every cgroup below
    it one by one: a v1 cgroup frozen on its own stays frozen when its parent thaws, and frozen tasks
    cannot die."""
    directories = [Path(d) for d, _, _ in os.walk(top)]
    with contextlib.suppress(OSError, SandboxError):
        fd = os.open(top / "freezer.state", os.O_RDWR | os.O_CLOEXEC)
        try:
            os.pwrite(fd, b"FROZEN", 0)
            _wait_state(fd, b"FROZEN", KILL_FREEZE_TIMEOUT_S)
        finally:
            os.close(fd)
    cgroupfs.kill_pids(cgroupfs.pids_in(top))
    for directory in reversed(directories):
        with contextlib.suppress(OSError):
            fd = os.open(directory / "freezer.state", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.pwrite(fd, b"THAWED", 0)
            finally:
                os.close(fd)
