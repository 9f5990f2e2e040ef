"""The Host protocol: every OS effect an execution environment needs, behind one interface.

The platform layer asks a Host to spawn the bootstrap inside a sandbox shaped by `Limits`, then
freezes, thaws, measures and kills it through the returned `Sandbox`. Implementations differ in fidelity
(cgroup freezer vs SIGSTOP, CFS quota vs nothing); each says which mechanism is in force via `Fidelity`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

VCPU_MB = 1769  # Lambda: 1,769 MB buys one vCPU of credit (reference §9)
MAX_VCPUS = 6


def vcpus_for_memory(memory_mb: int) -> float:
    """CPU credit Lambda gives a memory size, in vCPUs (linear, at most 6)."""
    return min(memory_mb / VCPU_MB, MAX_VCPUS)


@dataclass(frozen=True)
class Limits:
    """What the sandbox enforces, derived from a FunctionConfig."""

    memory_mb: int
    ephemeral_storage_mb: int = 512
    cpu_visibility: str = "parent"  # "parent": quota hidden from the function (Lambda); "leaf": visible
    max_open_files: int = 1024
    max_processes: int = 1024
    init_vcpus: float | None = None  # CPU from exec to the first /next when above the memory's (None: same)

    @property
    def vcpus(self) -> float:
        return vcpus_for_memory(self.memory_mb)

    @property
    def init_cpu_vcpus(self) -> float:
        """What init runs on: the init allowance, never less than the memory's quota."""
        return max(self.vcpus, min(self.init_vcpus or 0.0, MAX_VCPUS))


@dataclass(frozen=True)
class Fidelity:
    """Which mechanism enforces each part of the contract on this machine, and why (for doctor and --json)."""

    freeze: str
    cpu: str
    memory: str
    memory_peak: str
    isolation: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    host: str = ""  # which Host: cgroup-v1, cgroup-v2, unprivileged
    init_cpu: str = ""  # the CPU from exec to the first /next, when it differs from `cpu`

    def as_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "freeze": self.freeze,
            "cpu": self.cpu,
            "init_cpu": self.init_cpu or self.cpu,
            "memory": self.memory,
            "memory_peak": self.memory_peak,
            "isolation": self.isolation,
            "notes": list(self.notes),
        }


class Child(Protocol):
    """A started bootstrap process, as asyncio.subprocess.Process shows one."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None:
        """None while it runs; its exit code, or -N when signal N ended it."""

    async def wait(self) -> int:
        """Wait for it to end; its returncode."""


class Sandbox(Protocol):
    """One running bootstrap and everything it spawned."""

    @property
    def process(self) -> Child:
        """The bootstrap process (its output goes to the `output_fd` given to `Host.spawn`)."""

    def freeze(self) -> None:
        """Stop every process of the sandbox until `thaw`; no CPU is used meanwhile."""

    def thaw(self) -> None:
        """Resume a frozen sandbox."""

    def peak_memory_bytes(self) -> int:
        """Peak resident memory of the sandbox's processes since it was spawned."""

    def reset_peak(self) -> None:
        """Forget the peak so far: called once the bootstrap has exec'd (the set-up before is coldlab's)."""

    def end_init(self) -> None:
        """The runtime's first /next: init's CPU allowance (Limits.init_vcpus) ends, the memory's quota
        applies from here on. Nothing to do where there is no allowance or no quota."""

    def kill(self) -> None:
        """Kill every process of the sandbox (SIGKILL). Safe to call more than once."""

    def adopt(self, child: Child) -> None:
        """Count `child`, started into the sandbox after it was made (an extension), as one of its own."""

    def close(self) -> None:
        """Kill what is left and release OS resources (cgroups, scratch directories)."""


class PreparedSandbox(Protocol):
    """A sandbox made and set up before the invoke that needs it; its process waits to exec the bootstrap."""

    @property
    def sandbox(self) -> Sandbox:
        """The sandbox (its `process` is the one waiting to exec)."""

    async def start(self) -> Sandbox:
        """Exec the bootstrap (SandboxError if it cannot be started)."""

    async def start_companion(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, output_fd: int
    ) -> Child:
        """Before `start`: run another program in this sandbox (same cgroups, user, mounts): an external
        extension. Paths are the host's; they are moved to /var/task and /opt as the bootstrap's are."""

    def discard(self) -> None:
        """Give it up: kill the waiting process and release the sandbox."""


class Host(Protocol):
    """A way of running sandboxes on this machine."""

    name: str

    def fidelity(self, limits: Limits) -> Fidelity:
        """What this host will enforce for `limits`, without spawning anything."""

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
        """Make a sandbox for `argv` and set its process up up to exec, so an invoke only has to start it.
        `opt_dir` (the function's layers) is shown read-only at /opt where the host isolates.

        stdin is /dev/null; stdout AND stderr both go to `output_fd`. One descriptor for both keeps the
        function's lines in the order it wrote them (as CloudWatch does), and lets the platform drain
        everything written before the runtime's next API call.
        """

    async def spawn(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, limits: Limits, output_fd: int
    ) -> Sandbox:
        """`prepare` then `start`: the sandbox made on the caller's path."""
