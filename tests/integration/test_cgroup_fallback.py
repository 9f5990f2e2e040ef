"""Host selection on a machine without usable cgroups: no root, a read-only cgroup mount. coldlab still
runs (the unprivileged host), and the selection says why."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldlab.sandbox import choose_host
from coldlab.sandbox.host import Limits
from coldlab.sandbox.signals import SignalHost

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges and to mount")


def in_child_as(uid: int, root: Path) -> dict[str, object]:
    """Run choose_host(root) in a forked child that has dropped to `uid`; return what it chose."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery from here on, only os._exit
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            chosen = choose_host(root)

            async def run() -> int:
                sandbox = await chosen.host.spawn(["/bin/true"], {}, Path("/"), Limits(128), 2)
                return await sandbox.process.wait()

            code = asyncio.run(run())
            doc = {**chosen.as_dict(), "notice": chosen.notice, "code": code}
            os.write(write_fd, json.dumps(doc).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    data = b""
    while chunk := os.read(read_fd, 65536):
        data += chunk
    os.close(read_fd)
    os.waitpid(pid, 0)
    result: dict[str, object] = json.loads(data)
    return result


def test_without_root_the_unprivileged_host_runs_and_says_why() -> None:
    chosen = in_child_as(65534, Path("/sys/fs/cgroup"))
    assert chosen["host"] == "unprivileged"
    assert chosen["degraded"] is True
    assert "not running as root" in str(chosen["reason"])
    assert any("no permission" in t or "Permission denied" in t for t in chosen["tried"])  # type: ignore[attr-defined]
    assert "cpu=not-limited" in str(chosen["notice"])
    assert chosen["code"] == 0  # and the function still runs


@pytest.fixture
def read_only_v1_tree(tmp_path: Path) -> Iterator[Path]:
    """A directory that looks like a v1 cgroup root (cpu, memory, freezer), bind-mounted read-only."""
    tree = tmp_path / "tree"
    for ctrl in ("cpu", "memory", "freezer"):
        (tree / ctrl).mkdir(parents=True)
        (tree / ctrl / "cgroup.procs").write_text("")
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(tree), str(mount)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_read_only_cgroup_mount_falls_back_and_says_so(read_only_v1_tree: Path) -> None:
    chosen = choose_host(read_only_v1_tree)
    assert isinstance(chosen.host, SignalHost)
    assert chosen.degraded
    assert any("is read-only" in t for t in chosen.tried)
    assert chosen.notice is not None and "read-only" in chosen.notice
