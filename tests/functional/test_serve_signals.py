"""`coldlab serve` and its signals: SIGTERM / Ctrl-C shut it down gracefully, then the CLI's one line and
exit code (143 / 130) as every coldlab command; a second signal during the shutdown cuts the grace period
short but never the clean-up (no process or cgroup left). Real subprocesses; the waits are on conditions."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.runtime_scripts import GoBuilder, gone
from support.serve import ServeProcess, code_dir, lambda_client

pytestmark = pytest.mark.go
LINES = {signal.SIGTERM: "coldlab: terminated", signal.SIGINT: "coldlab: interrupted"}


def coldlab_cgroups(pid: int) -> list[Path]:
    found = []
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "coldlab" in path:
            name = controllers.split(",")[0].removeprefix("name=") if controllers else ""
            found.append(Path("/sys/fs/cgroup") / name / path.lstrip("/"))
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_cuts_the_grace_short_and_the_clean_up_still_runs(
    go_build: GoBuilder, tmp_path: Path, sig: signal.Signals
) -> None:
    code = code_dir(go_build("hello-go"), tmp_path / "hello")
    server = ServeProcess(str(code), "--timeout", "120", "--shutdown-grace", "600", cwd=tmp_path)
    server.wait_listening()
    answer: dict[str, Any] = {}

    def slow() -> None:
        try:
            client = lambda_client(server.url, read_timeout_s=300)
            client.invoke(FunctionName="hello", Payload=json.dumps({"sleep_ms": 100_000}).encode())
        except ClientError as exc:
            answer.update(exc.response)

    caller = threading.Thread(target=slow)
    caller.start()
    try:
        busy = server.wait_for(
            lambda: [
                e for e in server.function("hello")["environments"] if e["state"] == "busy" and e["pid"]
            ],
            "the slow invoke to run",
        )
        pid = busy[0]["pid"]
        cgroups = coldlab_cgroups(pid)
        server.proc.send_signal(sig)
        server.wait_for(lambda: "coldlab serve: shutting down" in server.lines, "the shutdown to begin")
        server.proc.send_signal(sig)  # the grace period (600 s) would outlast this test: only this ends it
        code_ = server.stop(sig, timeout_s=120)  # sends nothing more once it has exited
    finally:
        if server.proc.poll() is None:  # a failed wait above: the server must not outlive the test
            server.stop(signal.SIGKILL)
        caller.join(60)
    assert code_ == 128 + sig
    assert server.lines[-1] == LINES[sig]
    assert f"coldlab serve: {sig.name} again: running invokes are stopped now; cleaning up" in server.lines
    assert "coldlab serve: stopped: 1 environments shut down" in server.lines
    assert answer["Error"]["Code"] == "ServiceException"  # the cut-off invoke was answered 500, not dropped
    assert gone([pid])
    assert not [c for c in cgroups if c.exists()]
    assert not [line for line in server.lines if "Traceback" in line]
