"""The cgroup v2 host for real on this machine's cgroup2 mount: cgroup.freeze and cgroup.kill (its cpu and
memory controllers are bound to v1 here, so those are covered by tests/unit/test_cgroup_v2_fake_tree.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from coldlab.sandbox import cgroupfs
from coldlab.sandbox.cgroup_v2 import CgroupV2Host
from coldlab.sandbox.host import Limits
from support.runtime_scripts import gone


def _v2_root() -> Path | None:
    for candidate in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        if (candidate / "cgroup.controllers").exists():
            return candidate
    return None


ROOT = _v2_root()


def _unavailable() -> str | None:
    if ROOT is None:
        return "no cgroup v2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified"
    if os.geteuid() != 0:
        return "needs root to create cgroups"
    return cgroupfs.writable_reason(ROOT / cgroupfs.PARENT)


pytestmark = [pytest.mark.cgroup, pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable()))]


def test_freeze_thaw_and_kill_a_process_tree_on_cgroup2() -> None:
    assert ROOT is not None
    host = CgroupV2Host(ROOT)

    async def go() -> None:
        sandbox = await host.spawn(
            ["/bin/sh", "-c", "(while :; do :; done) & while :; do :; done"], {}, Path("/"), Limits(256), 2
        )
        await asyncio.sleep(0.2)
        sandbox.freeze()
        assert "frozen 1" in (sandbox.env_dir / "cgroup.events").read_text()
        used = sandbox.cpu_time_ns()
        await asyncio.sleep(0.3)
        assert sandbox.cpu_time_ns() == used  # nothing ran while frozen, the child included
        sandbox.thaw()
        await asyncio.sleep(0.1)
        assert sandbox.cpu_time_ns() > used
        pids = cgroupfs.pids_in(sandbox.env_dir)
        assert len(pids) == 2
        sandbox.freeze()  # kill works on a frozen sandbox too (cgroup.kill wakes frozen tasks)
        sandbox.close()
        assert await asyncio.wait_for(sandbox.process.wait(), 10) == -signal.SIGKILL
        assert gone(pids)
        assert not sandbox.env_dir.exists()
        assert sandbox.peak_memory_bytes() > 0

    asyncio.run(go())
    host.close()
    assert not (ROOT / cgroupfs.PARENT / host.run).exists()
