"""How bootstraps are forked: the zygote, the fallback when it cannot start, and the set-up's failures."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coldlab.errors import SandboxError
from coldlab.sandbox import procfs, spawner
from coldlab.sandbox.host import Limits
from coldlab.sandbox.isolation import ChildSetup
from coldlab.sandbox.signals import SignalHost


def run_echo(host: SignalHost) -> tuple[int, bytes]:
    read_fd, write_fd = os.pipe()

    async def go() -> int:
        sandbox = await host.spawn(["/bin/echo", "hi"], {}, Path("/"), Limits(128), write_fd)
        os.close(write_fd)
        code = await asyncio.wait_for(sandbox.process.wait(), 10)
        sandbox.close()
        return code

    code = asyncio.run(go())
    output = os.read(read_fd, 100)
    os.close(read_fd)
    return code, output


def test_bootstraps_are_forked_by_the_zygote_not_by_coldlab() -> None:
    async def go() -> int:
        prepared = await spawner.spawner().prepare(["/bin/sleep", "30"], {}, Path("/"), 2, ChildSetup())
        child = await prepared.start()
        stat = Path(f"/proc/{child.pid}/stat").read_text()
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        os.kill(child.pid, 9)
        await child.wait()
        return parent

    parent = asyncio.run(go())
    zygote = spawner.spawner()
    assert isinstance(zygote, spawner.ZygoteSpawner)
    assert parent == zygote._process.pid != os.getpid()


def test_without_a_zygote_coldlab_forks_by_itself_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(spawner, "_current", None)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    with caplog.at_level(logging.WARNING):
        code, output = run_echo(SignalHost())
    assert isinstance(spawner._current, spawner.ForkSpawner)
    assert "forking coldlab itself instead" in caplog.text
    assert (code, output) == (0, b"hi\n")


def test_a_child_that_cannot_exec_says_why() -> None:
    async def go() -> None:
        prepared = await spawner.spawner().prepare(["/nonexistent/bootstrap"], {}, Path("/"), 2, ChildSetup())
        await prepared.start()

    with pytest.raises(SandboxError, match=r"cannot start /nonexistent/bootstrap: No such file or directory"):
        asyncio.run(go())


def test_a_failed_set_up_says_why_before_anything_runs() -> None:
    setup = ChildSetup(cgroup_procs=(Path("/nonexistent/cgroup.procs"),))

    async def go() -> None:
        await spawner.spawner().prepare(["/bin/true"], {}, Path("/"), 2, setup)

    with pytest.raises(SandboxError, match=r"cannot prepare the sandbox for /bin/true: .*nonexistent/cgroup.procs"):
        asyncio.run(go())


@pytest.mark.parametrize("how", ["zygote", "fork"])
def test_a_discarded_child_exits_without_running_anything(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "ran"

    async def go() -> int:
        argv = ["/bin/sh", "-c", f"touch {marker}"]
        forker = spawner.spawner() if how == "zygote" else spawner.ForkSpawner("asked for by the test")
        prepared = await forker.prepare(argv, {}, Path("/"), 2, ChildSetup())
        prepared.discard()
        return await asyncio.wait_for(prepared.child.wait(), 10)

    assert asyncio.run(go()) == 0
    assert not marker.exists()


def test_tree_pids_follows_children_and_not_strangers() -> None:
    parent = subprocess.Popen(["/bin/sh", "-c", "sleep 30 & sleep 30 & wait"])
    stranger = subprocess.Popen(["/bin/sleep", "30"])
    try:
        for _ in range(200):  # the shell needs a moment to start its two children
            pids = procfs.tree_pids(parent.pid)
            if len(pids) == 3:
                break
            asyncio.run(asyncio.sleep(0.01))
        assert pids[0] == parent.pid and len(pids) == 3
        assert stranger.pid not in pids
        assert procfs.tree_peak_rss_bytes(parent.pid) >= sum(procfs.peak_rss_bytes(p) for p in pids[1:])
        assert procfs.tree_pids(2**22 + 1) == []  # no such process
    finally:
        for process in (parent, stranger):
            process.kill()
            process.wait()
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
