"""The cgroup v2 host: cgroup.freeze, cgroup.kill, cpu.max, memory.max without swap, memory.peak, pids.max.

Per environment: `<root>/coldlab/<run>/<env>` (freeze, kill, limits, peak) with the process in `<env>/fn` (v2
puts processes only in leaves). Controllers missing from the hierarchy (e.g. a hybrid machine whose cpu and
memory are bound to v1) degrade one by one, and `fidelity` says which.
"""

from __future__ import annotations

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
from coldlab.sandbox.procfs import reset_peaks, sandbox_peak_bytes
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

WANTED = ("cpu", "memory", "pids")
FREEZE_TIMEOUT_S = 5.0
MB = 1024 * 1024


def _wait_frozen(events_fd: int, frozen: bool, timeout_s: float = FREEZE_TIMEOUT_S) -> None:
    """Spin until cgroup.events says `frozen 1` (or 0): the freeze is complete only then."""
    wanted = b"frozen 1" if frozen else b"frozen 0"
    deadline = time.monotonic() + timeout_s
    spins = 0
    while wanted not in os.pread(events_fd, 256, 0):
        spins += 1
        if spins > 100:
            if time.monotonic() > deadline:
                raise SandboxError(f"cgroup.events did not report {wanted.decode()} within {timeout_s:.0f} s")
            time.sleep(0.0002)


class CgroupV2Sandbox:
    """One bootstrap in `<env>/fn` of a v2 hierarchy."""

    def __init__(self, host: CgroupV2Host, process: Child, env_dir: Path, limit_bytes: int) -> None:
        self._host = host
        self._limit = limit_bytes
        self._process = process
        self.env_dir = env_dir
        self.leaf = env_dir / "fn"
        self._peak = 0
        self._cpu_ns = 0
        self._closed = False
        self.init_lift: QuotaLift | None = None  # set by the host when init runs on an allowance
        # Kept open: freeze+thaw is on every warm invoke's path, and open/close would double its cost.
        self._freeze_fd = os.open(env_dir / "cgroup.freeze", os.O_WRONLY | os.O_CLOEXEC)
        self._events_fd = os.open(env_dir / "cgroup.events", os.O_RDONLY | os.O_CLOEXEC)
        self._peak_fd: int | None = None  # memory.peak reset for this descriptor only (Linux >= 6.12)

    @property
    def process(self) -> Child:
        return self._process

    def _set_frozen(self, frozen: bool) -> None:
        try:
            os.pwrite(self._freeze_fd, b"1" if frozen else b"0", 0)
        except OSError as exc:
            raise SandboxError(f"cannot write {self.env_dir}/cgroup.freeze: {exc.strerror}") from exc
        _wait_frozen(self._events_fd, frozen)

    def freeze(self) -> None:
        if not self._closed:
            if "memory" not in self._host.controllers:
                self._sample_peak()  # /proc high-water marks of tasks that exit later would be lost
            self._set_frozen(True)

    def thaw(self) -> None:
        if not self._closed:
            self._set_frozen(False)

    def _sample_peak(self) -> None:
        if self._closed:
            return
        charged = 0  # without a memory controller here, only the processes' own high-water marks
        if self._peak_fd is not None:
            charged = int(os.pread(self._peak_fd, 32, 0))
        elif "memory" in self._host.controllers:
            charged = cgroupfs.read_int(self.env_dir / "memory.peak")
        self._peak = max(self._peak, sandbox_peak_bytes(charged, cgroupfs.pids_in(self.env_dir), self._limit))

    def reset_peak(self) -> None:
        """Forget the peak so far. memory.peak resets only for reads through the descriptor that wrote to it
        (Linux >= 6.12); on older kernels the charged peak keeps what the set-up before exec charged."""
        self._peak = 0
        reset_peaks(cgroupfs.pids_in(self.env_dir))
        if "memory" in self._host.controllers:
            if self._peak_fd is not None:
                os.close(self._peak_fd)
            self._peak_fd = cgroupfs.open_reset_peak(self.env_dir / "memory.peak")

    def end_init(self) -> None:
        lift, self.init_lift = self.init_lift, None
        if lift is not None and not self._closed:
            lift.apply()

    def peak_memory_bytes(self) -> int:
        self._sample_peak()
        return self._peak

    def cpu_time_ns(self) -> int:
        """usage_usec of cpu.stat (present in every v2 cgroup, with or without the cpu controller)."""
        if not self._closed:
            usage = cgroupfs.keyed(self.env_dir / "cpu.stat").get("usage_usec", 0) * 1000
            self._cpu_ns = max(self._cpu_ns, usage)
        return self._cpu_ns

    def cpu_throttling(self) -> dict[str, int]:
        return cgroupfs.keyed(self.env_dir / "cpu.stat") if not self._closed else {}

    def kill(self) -> None:
        """cgroup.kill: SIGKILL to every task, atomically with respect to forks (kernel 5.14+)."""
        if self._closed:
            return
        self._sample_peak()
        self.cpu_time_ns()
        kill_file = self.env_dir / "cgroup.kill"
        if kill_file.exists():
            with contextlib.suppress(SandboxError):
                cgroupfs.write(kill_file, "1")
                return
        with contextlib.suppress(SandboxError):
            self.freeze()
        cgroupfs.kill_pids(cgroupfs.pids_in(self.env_dir))
        with contextlib.suppress(SandboxError):
            self.thaw()

    def adopt(self, child: Child) -> None:
        """Nothing to do: the child joined this sandbox's cgroups before it exec'd."""

    def close(self) -> None:
        if self._closed:
            return
        self.kill()
        self._closed = True
        for fd in (self._freeze_fd, self._events_fd, self._peak_fd):
            if fd is not None:
                os.close(fd)
        self._host.release(self)


class CgroupV2Host(PreparingHost[CgroupV2Sandbox]):
    """Sandboxes in a cgroup v2 hierarchy (pure v2 machines; or the `unified` mount of a hybrid one)."""

    name = "cgroup-v2"

    def __init__(
        self,
        root: Path = Path("/sys/fs/cgroup"),
        *,
        isolate: bool | None = None,
        cpus: int | None = None,
        reason: str = "",
    ) -> None:
        self.root = root
        if not (root / "cgroup.controllers").exists():
            raise SandboxError(f"{root} is not a cgroup v2 hierarchy")
        self.base = root / cgroupfs.PARENT
        why = cgroupfs.writable_reason(self.base)
        if why:
            raise SandboxError(why)
        self.reason = reason or f"cgroup v2 is writable at {root}"
        self.cpus = cpus or host_cpus()
        available = set(cgroupfs.read(root / "cgroup.controllers").split())
        self.controllers = self._enable([c for c in WANTED if c in available], (root, self.base))
        self.missing = {c: "not in the hierarchy" for c in WANTED if c not in available}
        self.missing.update(
            {c: "could not be enabled" for c in WANTED if c in available and c not in self.controllers}
        )
        self.stale_removed = cgroupfs.remove_stale_runs([self.base], self._kill_run)
        self.run = cgroupfs.run_name()
        self.user = function_user(isolate)
        self._live: set[CgroupV2Sandbox] = set()
        weakref.finalize(self, _cleanup_run, self.base / self.run, self._live)

    @staticmethod
    def _enable(controllers: list[str], chain: Sequence[Path]) -> tuple[str, ...]:
        """Turn controllers on down `chain` (each dir's subtree_control); returns those that made it."""
        enabled = list(controllers)
        for directory in chain:
            present = set(cgroupfs.read(directory / "cgroup.subtree_control").split())
            for ctrl in list(enabled):
                if ctrl in present:
                    continue
                try:
                    cgroupfs.write(directory / "cgroup.subtree_control", f"+{ctrl}")
                except SandboxError:
                    enabled.remove(ctrl)
        return tuple(enabled)

    def _kill_run(self, name: str) -> None:
        """For a stale run: cgroup.kill at the run level reaches every environment in it."""
        _kill_tree(self.base / name)

    # --- fidelity ------------------------------------------------------------------------------------------

    def fidelity(self, limits: Limits) -> Fidelity:
        notes: tuple[str, ...] = ()
        if "cpu" in self.controllers:
            cpu, notes = cpu_description(limits, self.cpus)
            cpu = cpu.replace("cfs-quota", "cpu.max")
        else:
            cpu = f"not-limited (cgroup v2 cpu controller {self.missing['cpu']} at {self.root})"
        if "memory" in self.controllers:
            memory = f"cgroup-v2-memory ({limits.memory_mb} MB memory.max, memory.swap.max 0, oom.group)"
            peak = "cgroup-v2 memory.peak, or the largest process VmHWM when higher"
        else:
            memory = f"not-limited (cgroup v2 memory controller {self.missing['memory']} at {self.root})"
            peak = "proc-vmhwm (the largest of the cgroup's processes)"
        tasks = "pids.max" if "pids" in self.controllers else "RLIMIT_NPROC"
        isolation = isolation_text(self.user, limits, tasks)
        return Fidelity(
            freeze="cgroup-v2-freeze",
            cpu=cpu,
            memory=memory,
            memory_peak=peak,
            isolation=isolation,
            notes=notes,
            host=self.name,
            init_cpu=init_cpu_text(limits, self.cpus) if "cpu" in self.controllers else "",
        )

    # --- spawn ---------------------------------------------------------------------------------------------

    def _make_cgroups(self, limits: Limits) -> Path:
        run_dir = self.base / self.run
        cgroupfs.make_dirs(run_dir)
        self._enable(list(self.controllers), (run_dir,))
        env_dir = run_dir / cgroupfs.new_env_name()
        cgroupfs.make_dirs(env_dir)
        self._enable(list(self.controllers), (env_dir,))  # so the leaf can carry cpu.max / oom.group too
        cgroupfs.make_dirs(env_dir / "fn")
        if "cpu" in self.controllers:
            quota = cfs_quota_us(init_quota_vcpus(limits, self.cpus)[0])  # lifted at the first /next
            where = env_dir if limits.cpu_visibility == "parent" else env_dir / "fn"
            cgroupfs.write(where / "cpu.max", f"{quota} {CFS_PERIOD_US}")
        if "memory" in self.controllers:
            cgroupfs.write(env_dir / "memory.max", str(limits.memory_mb * MB))
            if (env_dir / "memory.swap.max").exists():
                cgroupfs.write(env_dir / "memory.swap.max", "0")
            for directory in (env_dir, env_dir / "fn"):  # an OOM kills every task, as Lambda does
                cgroupfs.write(directory / "memory.oom.group", "1")
        if "pids" in self.controllers:
            cgroupfs.write(env_dir / "pids.max", str(limits.max_processes))
        return env_dir

    async def prepare(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        limits: Limits,
        output_fd: int,
        *,
        opt_dir: Path | None = None,
    ) -> PreparedSandbox[CgroupV2Sandbox]:
        check_limits(limits)
        env_dir = self._make_cgroups(limits)
        try:
            argv, env, cwd, setup = isolated_setup(
                argv,
                env,
                cwd,
                limits,
                cgroup_procs=(env_dir / "fn" / "cgroup.procs",),
                user=self.user,
                pids_limited="pids" in self.controllers,
                opt_dir=opt_dir,
            )
            prepared = await spawner().prepare(argv, env, cwd, output_fd, setup)
        except BaseException:
            cgroupfs.remove_tree(env_dir)
            raise
        sandbox = CgroupV2Sandbox(self, prepared.child, env_dir, limits.memory_mb * MB)
        during, after = init_quota_vcpus(limits, self.cpus)
        if "cpu" in self.controllers and during > after:
            where = env_dir if limits.cpu_visibility == "parent" else env_dir / "fn"
            sandbox.init_lift = QuotaLift(where / "cpu.max", f"{cfs_quota_us(after)} {CFS_PERIOD_US}")
        self._live.add(sandbox)
        return PreparedSandbox(sandbox, prepared, setup, opt_dir)

    def release(self, sandbox: CgroupV2Sandbox) -> None:
        self._live.discard(sandbox)
        cgroupfs.remove_tree(sandbox.env_dir, timeout_s=0.5)

    def close(self) -> None:
        _cleanup_run(self.base / self.run, self._live)


def _cleanup_run(run_dir: Path, live: set[CgroupV2Sandbox]) -> None:
    for sandbox in list(live):
        with contextlib.suppress(Exception):
            sandbox.close()
    _kill_tree(run_dir)
    cgroupfs.remove_tree(run_dir, timeout_s=2.0)
    cgroupfs.remove_if_empty(run_dir.parent)


def _kill_tree(directory: Path) -> None:
    kill_file = directory / "cgroup.kill"
    if kill_file.exists():
        with contextlib.suppress(SandboxError):
            cgroupfs.write(kill_file, "1")
    cgroupfs.kill_pids(cgroupfs.pids_in(directory))
