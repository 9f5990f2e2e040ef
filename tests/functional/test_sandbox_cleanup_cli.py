"""Ctrl-C on `coldlab invoke` while the function runs: no function process and no cgroup is left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coldlab.sandbox import selection
from support.runtime_scripts import GoBuilder, gone

FREEZER = Path("/sys/fs/cgroup/freezer/coldlab")
_chosen = selection()
pytestmark = [
    pytest.mark.cgroup,
    pytest.mark.go,
    pytest.mark.skipif(_chosen.host.name != "cgroup-v1", reason=f"needs the cgroup v1 host ({_chosen.reason})"),
]


def test_ctrl_c_during_an_invoke_cleans_up(go_build: GoBuilder, tmp_path: Path) -> None:
    code = go_build("hello-go").parent
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"sleep_ms": 20000}))
    log = (tmp_path / "stderr").open("w+")
    cli = subprocess.Popen(
        [sys.executable, "-m", "coldlab", "invoke", str(code), "--event", str(event), "--timeout", "60"],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 20
    pids: list[int] = []
    while not pids and time.monotonic() < deadline:  # wait until the function runs in its cgroup
        runs = list(FREEZER.glob(f"{cli.pid}-*/env-*/cgroup.procs")) if FREEZER.exists() else []
        pids = [int(p) for f in runs for p in f.read_text().split()]
        time.sleep(0.05)
    assert pids, "the function never started"
    run_dirs = [d.parent for d in FREEZER.glob(f"{cli.pid}-*/env-*")]
    cli.send_signal(signal.SIGINT)
    try:
        code_ = cli.wait(20)
    except subprocess.TimeoutExpired:
        cli.kill()
        code_ = None
    log.seek(0)
    assert code_ == 130, log.read()  # coldlab: interrupted
    assert gone(pids)
    assert not any(d.exists() for d in run_dirs)
    assert not list(Path("/sys/fs/cgroup").glob(f"*/coldlab/{cli.pid}-*"))
