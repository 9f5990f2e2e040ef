"""Faults of `coldlab serve` itself: kill -9 mid-load and a restart on the same state directory (what the
dead server left is removed, queued and running events are delivered, the records are intact), SIGTERM
(in-flight invokes finished or answered 500, queued events stay queued), and a state database that is
corrupt, locked or in use (one line, exit 2, the file untouched)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.cgroups import v1_unavailable
from support.runtime_scripts import GoBuilder, gone, pid_alive
from support.serve import COLDLAB, ServeProcess, code_dir, lambda_client

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def code(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("code")
    return [str(code_dir(go_build("hello-go"), root / name)) for name in ("hello", "other")]


def serve_args(code: list[str], state: Path, *extra: str) -> list[str]:
    return [*code, "--timeout", "20", "--retry-delay-scale", "0.01", "--state-dir", str(state), *extra]


def event(client: Any, body: dict[str, Any]) -> str:
    answer = client.invoke(FunctionName="hello", InvocationType="Event", Payload=json.dumps(body).encode())
    assert answer["StatusCode"] == 202
    return str(answer["ResponseMetadata"]["RequestId"])


def running_and_queued(
    serve: ServeProcess, client: Any, out: Path, *, sleep_ms: int
) -> tuple[str, list[str]]:
    """hello with reserved concurrency 1: one Event invoke running (sleeping), three queued behind it
    (each tried once and throttled, so they wait with backoff)."""
    client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=1)
    client.put_function_event_invoke_config(
        FunctionName="hello", DestinationConfig={"OnSuccess": {"Destination": f"file://{out}/"}}
    )
    running = event(client, {"sleep_ms": sleep_ms, "name": "long"})
    serve.wait_for(lambda: serve.function("hello")["concurrency"] == 1, "the long event to run")
    queued = [event(client, {"name": f"q{i}"}) for i in range(3)]
    serve.wait_for(lambda: serve.function("hello")["async"]["counts"]["throttled"] >= 3, "3 throttles")
    return running, queued


def cgroups_of(pids: list[int]) -> set[Path]:
    found = set()
    for pid in pids:
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "coldlab" in path and controllers:  # v1 hierarchies: /sys/fs/cgroup/<controller>/<path>
                found.add(Path("/sys/fs/cgroup") / controllers.split(",")[0] / path.lstrip("/"))
    return found


def delivered(out: Path) -> list[str]:
    return sorted(json.loads(p.read_text())["requestContext"]["requestId"] for p in out.glob("*.json"))


def test_kill_9_loses_no_event_and_the_restart_cleans_up(code: list[str], tmp_path: Path) -> None:
    if why := v1_unavailable():
        pytest.skip(why)
    state, out = tmp_path / "state", tmp_path / "delivered"
    first = ServeProcess(*serve_args(code, state), cwd=tmp_path)
    try:
        first.wait_listening()
        client = lambda_client(first.url)
        finished = [
            client.invoke(FunctionName="other", Payload=b"{}")["ResponseMetadata"]["RequestId"]
            for _ in range(3)
        ]
        first.wait_for(lambda: first.status()["records"]["written"] >= 3, "the records to be written")
        (frozen,) = [env["pid"] for env in first.function("other")["environments"]]
        long_id, queued = running_and_queued(first, client, out, sleep_ms=4000)
        (busy,) = [env["pid"] for env in first.function("hello")["environments"] if env["state"] == "busy"]
        cgroups = cgroups_of([frozen, busy])
        assert cgroups
    finally:  # the kill -9 under test, or the clean-up of a failed set-up (never leave it running)
        first.stop(signal.SIGKILL)
    assert pid_alive(frozen)  # frozen when its server died: the kill it was sent waits for a thaw
    (uploads,) = Path(tempfile.gettempdir()).glob(f"coldlab-serve-{first.proc.pid}-*")  # left behind too

    second = ServeProcess(*serve_args(code, state), cwd=tmp_path)
    try:
        second.wait_listening()
        assert any(
            line.startswith("coldlab serve: removed the cgroups and processes of") for line in second.lines
        )
        assert gone([frozen, busy])
        assert not [c for c in cgroups if c.exists()]
        assert not uploads.exists()
        assert "coldlab serve: state " + str(state) + ": 4 Event invokes in the queue" in second.lines
        second.wait_for(lambda: len(delivered(out)) == 4, "all 4 events delivered", timeout_s=60)
        assert delivered(out) == sorted([long_id, *queued])  # none lost; the cut-off one ran again
        status = second.status()["async"]
        assert status["duplicates"] == 1
        assert status["queued"] == status["running"] == 0
        assert any("run again (duplicates): hello 1" in line for line in second.lines)
    finally:
        assert second.stop() == 143  # SIGTERM: 128 + 15, as every coldlab command
    conn = sqlite3.connect(state / "state.db")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    recorded = {row[0] for row in conn.execute("SELECT request_id FROM records WHERE function = 'other'")}
    assert set(finished) <= recorded  # the finished invocations' records survived the kill
    conn.close()


def test_sigterm_answers_in_flight_invokes_and_keeps_queued_events(code: list[str], tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "delivered"
    serve = ServeProcess(*serve_args(code, state, "--shutdown-grace", "3"), cwd=tmp_path)
    serve.wait_listening()
    client = lambda_client(serve.url)
    long_id, queued = running_and_queued(serve, client, out, sleep_ms=15000)
    answers: dict[str, Any] = {}

    def call(key: str, sleep_ms: int) -> None:
        try:
            answer = client.invoke(
                FunctionName="other", Payload=json.dumps({"sleep_ms": sleep_ms, "name": key}).encode()
            )
            answers[key] = json.loads(answer["Payload"].read())
        except ClientError as exc:
            answers[key] = exc.response

    threads = [threading.Thread(target=call, args=args) for args in (("quick", 1500), ("slow", 15000))]
    for thread in threads:
        thread.start()
    serve.wait_for(lambda: serve.function("other")["concurrency"] == 2, "both synchronous invokes to run")
    # A second server on the same directory is refused while this one runs.
    refused = subprocess.run(
        [*COLDLAB, "serve", *serve_args(code, state)], capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"coldlab: error: the state directory {state} is in use by another coldlab serve (pid {serve.proc.pid}) "
        "(stop that server, or pass another --state-dir)"
    ]
    assert serve.stop(signal.SIGTERM) == 143
    for thread in threads:
        thread.join(30)
    assert answers["quick"]["message"] == "hello, quick"  # finished within the grace period
    slow = answers["slow"]
    assert slow["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert slow["Error"]["Code"] == "ServiceException"
    assert "shut down before the invoke finished" in slow["Error"]["Message"]
    assert "coldlab serve: stopped: 3 environments shut down" in serve.lines
    assert (
        f"coldlab serve: 4 Event invokes stay queued in {state} (delivered at the next start)" in serve.lines
    )
    conn = sqlite3.connect(state / "state.db")
    rows = dict(conn.execute("SELECT request_id, state FROM events").fetchall())
    conn.close()
    assert rows == {long_id: "running", **dict.fromkeys(queued, "queued")}  # kept, to be delivered next start
    assert delivered(out) == []
    # Started again without hello: its events wait for it (not lost, not a traceback).
    again = ServeProcess(*serve_args(code[1:], state), cwd=tmp_path)
    try:
        again.wait_listening()
        wait = "coldlab serve: Event invokes of hello wait: Function not found"
        again.wait_for(lambda: any(line.startswith(wait) for line in again.lines), "the events to wait")
        assert again.status()["async"]["queued"] + again.status()["async"]["running"] == 4
    finally:
        again.stop()
    assert not [line for line in again.lines if "Traceback" in line]


@pytest.mark.parametrize("damage", ["garbage", "locked"])
def test_a_corrupt_or_locked_database_is_one_line(code: list[str], tmp_path: Path, damage: str) -> None:
    path = tmp_path / "state.db"
    holder = None
    if damage == "garbage":
        path.write_bytes(b"\x00not sqlite\x00" * 500)
    else:
        sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    before = path.read_bytes()  # before the lock: closing any descriptor of the file drops POSIX locks
    if damage == "locked":
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
    try:
        done = subprocess.run(
            [*COLDLAB, "serve", *code, "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        if holder is not None:
            holder.execute("ROLLBACK")
            holder.close()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    what = "is corrupt or not a coldlab database" if damage == "garbage" else "is locked by another process"
    assert lines[0].startswith(f"coldlab: error: the state database {path} {what}")
    assert "--state-dir" in lines[0]
    assert path.read_bytes() == before  # refused, never overwritten
