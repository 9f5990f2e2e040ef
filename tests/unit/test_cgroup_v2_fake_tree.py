"""The cgroup v2 host against a fake cgroup tree (a temp dir with the kernel's files), for the controllers
this machine binds to v1: cpu.max on the parent or the leaf, memory.max/swap.max/oom.group, pids.max,
subtree_control enabling, freeze waiting for `frozen 1`, cgroup.kill, memory.peak, degradation."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldlab.sandbox import cgroupfs
from coldlab.sandbox.cgroup_v2 import CgroupV2Host, CgroupV2Sandbox
from coldlab.sandbox.host import Limits

MB = 1024 * 1024
FILES = {
    "cgroup.procs": "",
    "cgroup.subtree_control": "",
    "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.kill": "",
    "cpu.max": "max 100000",
    "cpu.stat": "usage_usec 1500\nnr_throttled 0\n",
    "memory.max": "max",
    "memory.swap.max": "max",
    "memory.peak": str(37 * MB),
    "memory.oom.group": "0",
    "pids.max": "max",
}


class FakeKernel:
    """Makes a directory tree behave like cgroupfs: control files appear on mkdir, `+ctrl` writes to
    cgroup.subtree_control accumulate, and cgroup.freeze is mirrored into cgroup.events."""

    def __init__(self, root: Path, controllers: str) -> None:
        self.root = root
        (root / "cgroup.controllers").write_text(controllers)
        for name, text in FILES.items():
            (root / name).write_text(text)
        self.writes: list[tuple[Path, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._mirror_freeze, daemon=True)

    def make_dirs(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for directory in [path, *path.parents]:
            if directory == self.root or not directory.is_relative_to(self.root):
                break
            if not (directory / "cgroup.procs").exists():
                for name, text in FILES.items():
                    (directory / name).write_text(text)

    def write(self, path: Path, value: str) -> None:
        self.writes.append((path, value))
        if path.name == "cgroup.subtree_control":
            current = path.read_text().split()
            path.write_text(" ".join([*current, value.lstrip("+")]))
        elif path.name == "cgroup.procs":
            path.write_text(path.read_text() + value + "\n")
        else:
            path.write_text(value)

    def _mirror_freeze(self) -> None:
        while not self._stop.wait(0.001):
            for freeze in self.root.rglob("cgroup.freeze"):
                try:  # files come and go (or are half-written) while the host works: try again next round
                    frozen = freeze.read_text().strip() or "0"
                    events = freeze.parent / "cgroup.events"
                    if f"frozen {frozen}" not in events.read_text():
                        events.write_text(f"populated 1\nfrozen {frozen}\n")
                except OSError:
                    continue

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKernel]:
    fake = FakeKernel(tmp_path, "cpuset cpu io memory pids")
    monkeypatch.setattr(cgroupfs, "make_dirs", fake.make_dirs)
    monkeypatch.setattr(cgroupfs, "write", fake.write)
    monkeypatch.setattr(cgroupfs, "remove_tree", lambda directory, timeout_s=1.0: True)
    monkeypatch.setattr(cgroupfs, "open_reset_peak", lambda peak_file: None)  # as before Linux 6.12
    fake.start()
    yield fake
    fake.stop()


def spawn(host: CgroupV2Host, limits: Limits) -> CgroupV2Sandbox:
    async def go() -> CgroupV2Sandbox:
        sandbox = await host.spawn(["/bin/true"], {}, Path("/"), limits, 2)
        await sandbox.process.wait()
        return sandbox

    return asyncio.run(go())


def written(kernel: FakeKernel, name: str) -> dict[str, str]:
    """{path relative to the root: value} for writes to files called `name`."""
    return {str(p.relative_to(kernel.root)): v for p, v in kernel.writes if p.name == name}


def test_parent_visibility_puts_cpu_max_on_the_environment_not_the_leaf(kernel: FakeKernel) -> None:
    host = CgroupV2Host(kernel.root, isolate=False, cpus=2)
    sandbox = spawn(host, Limits(256))
    env = str(sandbox.env_dir.relative_to(kernel.root))
    assert written(kernel, "cpu.max") == {f"{env}/cpu.max": "2894 20000"}  # 256/1769 of 20 ms
    assert written(kernel, "memory.max") == {f"{env}/memory.max": str(256 * MB)}
    assert written(kernel, "memory.swap.max") == {f"{env}/memory.swap.max": "0"}
    assert written(kernel, "memory.oom.group") == {f"{env}/memory.oom.group": "1", f"{env}/fn/memory.oom.group": "1"}
    assert written(kernel, "pids.max") == {f"{env}/pids.max": "1024"}
    # The process joined the leaf, and only the leaf.
    assert written(kernel, "cgroup.procs") == {}  # the child wrote it itself, between fork and exec
    assert (sandbox.leaf / "cgroup.procs").read_text().split() == [str(sandbox.process.pid)]
    # Controllers were switched on down to the environment so the leaf can carry limits too.
    for directory in (kernel.root, kernel.root / "coldlab", sandbox.env_dir.parent, sandbox.env_dir):
        assert set((directory / "cgroup.subtree_control").read_text().split()) == {"cpu", "memory", "pids"}
    sandbox.close()
    host.close()


def test_leaf_visibility_puts_cpu_max_on_the_leaf(kernel: FakeKernel) -> None:
    host = CgroupV2Host(kernel.root, isolate=False, cpus=2)
    sandbox = spawn(host, Limits(3538, cpu_visibility="leaf"))
    leaf = str(sandbox.leaf.relative_to(kernel.root))
    assert written(kernel, "cpu.max") == {f"{leaf}/cpu.max": "40000 20000"}  # 2 vCPU
    assert "leaf cgroup" in host.fidelity(Limits(3538, cpu_visibility="leaf")).cpu
    sandbox.close()


def test_quota_is_capped_by_the_host_cpus(kernel: FakeKernel) -> None:
    host = CgroupV2Host(kernel.root, isolate=False, cpus=2)
    spawn(host, Limits(10240)).close()
    assert list(written(kernel, "cpu.max").values()) == ["40000 20000"]
    assert any("capped at 2" in note for note in host.fidelity(Limits(10240)).notes)


def test_freeze_waits_for_frozen_and_kill_uses_cgroup_kill(kernel: FakeKernel) -> None:
    host = CgroupV2Host(kernel.root, isolate=False, cpus=2)
    sandbox = spawn(host, Limits(128))
    sandbox.freeze()
    assert "frozen 1" in (sandbox.env_dir / "cgroup.events").read_text()
    sandbox.thaw()
    assert "frozen 0" in (sandbox.env_dir / "cgroup.events").read_text()
    assert sandbox.peak_memory_bytes() == 37 * MB
    assert sandbox.cpu_time_ns() == 1_500_000
    sandbox.kill()
    assert written(kernel, "cgroup.kill") == {str((sandbox.env_dir / "cgroup.kill").relative_to(kernel.root)): "1"}
    sandbox.close()
    assert sandbox.peak_memory_bytes() == 37 * MB  # kept after the cgroup is gone


def test_missing_controllers_degrade_one_by_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKernel(tmp_path, "memory")  # cpu and pids bound elsewhere (as on a hybrid machine)
    monkeypatch.setattr(cgroupfs, "make_dirs", fake.make_dirs)
    monkeypatch.setattr(cgroupfs, "write", fake.write)
    host = CgroupV2Host(tmp_path, isolate=False, cpus=2)
    fidelity = host.fidelity(Limits(128))
    assert host.controllers == ("memory",)
    assert fidelity.cpu.startswith("not-limited (cgroup v2 cpu controller not in the hierarchy")
    assert fidelity.memory.startswith("cgroup-v2-memory (128 MB")
    assert fidelity.freeze == "cgroup-v2-freeze"


def test_not_a_v2_hierarchy_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="is not a cgroup v2 hierarchy"):
        CgroupV2Host(tmp_path / "nothing", isolate=False)


def test_stale_runs_of_dead_owners_are_removed(kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch) -> None:
    removed: list[Path] = []
    monkeypatch.setattr(cgroupfs, "remove_tree", lambda d, timeout_s=1.0: removed.append(d) or True)
    live = kernel.root / "coldlab" / cgroupfs.run_name()
    dead = kernel.root / "coldlab" / f"{os.getpid()}-1-1"  # our pid, another start time: a dead owner
    dead_older = kernel.root / "coldlab" / f"{os.getpid()}-2"  # the name earlier coldlab versions used
    stranger = kernel.root / "coldlab" / "not-a-run"
    for directory in (live, dead, dead_older, stranger):
        kernel.make_dirs(directory)
    host = CgroupV2Host(kernel.root, isolate=False, cpus=2)
    assert host.stale_removed == [dead.name, dead_older.name]
    assert removed == [dead, dead_older]
    assert written(kernel, "cgroup.kill") == {
        f"coldlab/{dead.name}/cgroup.kill": "1",
        f"coldlab/{dead_older.name}/cgroup.kill": "1",
    }
