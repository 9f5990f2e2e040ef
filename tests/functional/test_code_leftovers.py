"""A zipped package outlives a `kill -9` of coldlab only until the next coldlab: `coldlab doctor` removes it
and lists it, as it removes and lists the cgroups of killed runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from support.runtime_scripts import GoBuilder, gone, pid_alive

COLDLAB = [sys.executable, "-m", "coldlab"]
pytestmark = pytest.mark.go


def zipped(bootstrap: Path, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(bootstrap, "bootstrap")  # keeps the executable bit
    return path


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the zygote, the bootstrap), from the parent pids in /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = (entry / "stat").read_text()
            parents[int(entry.name)] = int(text[text.rfind(")") + 2 :].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        todo.extend(children)
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_kill_9_mid_invoke_leaves_the_package_until_doctor_removes_it(
    go_build: GoBuilder, tmp_path: Path
) -> None:
    archive = zipped(go_build("hello-go"), tmp_path / "pkg.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"sleep_ms": 60_000}))
    log = tmp_path / "stderr"
    with log.open("w") as sink:
        cli = subprocess.Popen(
            [*COLDLAB, "invoke", str(archive), "--event", str(event), "--timeout", "120"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )
    function_pids: list[int] = []
    try:
        wait_for(
            lambda: "cold_start=true" in log.read_text() or cli.poll() is not None, "the function to run"
        )
        assert cli.poll() is None, log.read_text()
        function_pids = descendants(cli.pid)
        left = list(scratch.glob(f"coldlab-code-{cli.pid}-*"))
        assert len(left) == 1
        assert (left[0] / "bootstrap").is_file()
        cli.send_signal(signal.SIGKILL)
        cli.wait(30)
        assert left[0].exists()  # kill -9 runs no clean-up: the package stays behind

        doctor = subprocess.run(
            [*COLDLAB, "doctor", "--json"], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert doctor.returncode == 0, doctor.stderr
        machine = json.loads(doctor.stdout)["machine"]
        assert machine["stale_code_dirs_removed"] == [str(left[0])]
        assert not left[0].exists()
        if machine["stale_runs_removed"]:  # a cgroup host also stopped the killed run's function
            assert any(name.startswith(f"{cli.pid}-") for name in machine["stale_runs_removed"])
            assert gone(function_pids)
        again = subprocess.run(
            [*COLDLAB, "doctor", "--json"], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert json.loads(again.stdout)["machine"]["stale_code_dirs_removed"] == []
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(30)
        for pid in function_pids:  # without cgroups nothing else stops an orphaned function
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        assert gone(function_pids)


def test_a_finished_invoke_leaves_no_package_behind(go_build: GoBuilder, tmp_path: Path) -> None:
    archive = zipped(go_build("hello-go"), tmp_path / "pkg.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = subprocess.run(
        [*COLDLAB, "invoke", str(archive)],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["message"] == "hello, world"
    assert list(scratch.iterdir()) == []
