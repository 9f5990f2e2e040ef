"""SIGTERM and Ctrl-C on a real `coldlab invoke`: the same clean-up, one line, 143/130, and nothing lost.

Each test starts coldlab as a subprocess on a real bootstrap, waits for a sign that the function got as far
as wanted (a REPORT line on stderr, or the bootstrap calling back over a socket when --json keeps stderr
quiet), signals, then checks the exit code, the line, what was printed, and that no process or cgroup is left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.runtime_scripts import GoBuilder, gone, write_script_bootstrap

CGROUPS = Path("/sys/fs/cgroup")
LINES = {signal.SIGTERM: "coldlab: terminated", signal.SIGINT: "coldlab: interrupted"}
WAIT_S = 60.0  # a bound on waiting for the function to get somewhere, not a timing under test

# Tells the test (over TCP: the function cannot write the test's files) each time an invocation begins, then
# sleeps from invocation STALL_AT on; earlier ones answer at once.
TELLING = """
import socket
n = 0
while True:
    rid, headers, body = next_event()
    n += 1
    with socket.create_connection(("127.0.0.1", int(os.environ["TELL_PORT"]))) as tell:
        tell.sendall(f"{n}\\n".encode())
    if n >= int(os.environ["STALL_AT"]):
        time.sleep(3600)
    respond(rid, json.dumps({"n": n}).encode())
"""


class Coldlab:
    """`coldlab ARGS` in its own session (as a terminal job is), its output in files."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.out, self.err = tmp / "stdout", tmp / "stderr"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coldlab", *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                preexec_fn=_own_session_with_sigint,  # noqa: PLW1509 (no threads run in these tests)
            )

    def wait_for_stderr(self, text: str, count: int = 1) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.err.read_text().count(text) < count:
            assert self.proc.poll() is None, f"coldlab exited early:\n{self.err.read_text()}"
            assert time.monotonic() < deadline, f"never saw {text!r}:\n{self.err.read_text()}"
            time.sleep(0.02)

    def stop(self, signum: signal.Signals) -> tuple[int, list[int]]:
        """Signal as a terminal's Ctrl-C does (the whole job) or as `timeout` does (coldlab alone); the exit
        code and the pids that ran under coldlab at that moment."""
        tree = descendants(self.proc.pid)
        if signum == signal.SIGINT:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"coldlab did not exit after {signum.name}:\n{self.err.read_text()}")
        return code, tree


def _own_session_with_sigint() -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell may start background jobs with SIGINT ignored


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the zygote, the bootstrap, a prepared spare sandbox)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = status.read_text()
        except OSError:
            continue
        ppid = int(text[text.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(status.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def assert_clean(cli: Coldlab, signum: signal.Signals, code: int, tree: list[int]) -> None:
    stderr = cli.err.read_text()
    assert code == 128 + signum, stderr
    assert stderr.splitlines()[-1] == LINES[signum]
    own = [line for line in stderr.splitlines() if line.startswith("coldlab: ") and ": warning: " not in line]
    assert own == [LINES[signum]], stderr  # one line, no traceback, no "internal error"
    assert "Traceback" not in stderr
    assert tree, "nothing ran under coldlab"
    assert gone(tree), (
        f"left running (a frozen process cannot die): {[p for p in tree if Path(f'/proc/{p}').exists()]}"
    )
    assert not list(CGROUPS.glob(f"*/coldlab/{cli.proc.pid}-*")), "a cgroup of this run is left"


@pytest.fixture
def teller() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT_S)
        yield server


def told(server: socket.socket) -> int:
    """The number of the invocation that just began (blocks until the bootstrap says it)."""
    conn, _ = server.accept()
    with conn:
        return int(conn.makefile().readline())


def script_cli(tmp: Path, server: socket.socket, stall_at: int, *args: str) -> Coldlab:
    code = write_script_bootstrap(tmp / "code", TELLING)
    env = ["--env", f"TELL_PORT={server.getsockname()[1]}", "--env", f"STALL_AT={stall_at}"]
    return Coldlab(tmp, "invoke", str(code), "--timeout", "900", *env, *args)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_mid_invoke_nothing_printed_and_all_cleaned(
    tmp_path: Path, teller: socket.socket, signum: signal.Signals
) -> None:
    cli = script_cli(tmp_path, teller, 1)
    assert told(teller) == 1
    code, tree = cli.stop(signum)
    assert_clean(cli, signum, code, tree)
    assert cli.out.read_bytes() == b""  # the invocation never finished


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_mid_repeat_prints_the_finished_responses(
    tmp_path: Path, teller: socket.socket, signum: signal.Signals
) -> None:
    cli = script_cli(tmp_path, teller, 3, "--repeat", "5")
    assert [told(teller) for _ in range(3)] == [1, 2, 3]
    cli.wait_for_stderr("REPORT RequestId: ", 2)
    code, tree = cli.stop(signum)
    assert_clean(cli, signum, code, tree)
    assert [json.loads(line) for line in cli.out.read_text().splitlines()] == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_mid_repeat_json_is_the_whole_document_of_what_finished(
    tmp_path: Path, teller: socket.socket, signum: signal.Signals
) -> None:
    cli = script_cli(tmp_path, teller, 2, "--repeat", "4", "--json")
    assert [told(teller) for _ in range(2)] == [1, 2]
    code, tree = cli.stop(signum)
    assert_clean(cli, signum, code, tree)
    document = json.loads(cli.out.read_text())
    assert document["schema"] == "coldlab.invoke/1"
    assert document["interrupted"] == signum.name
    (finished,) = document["invocations"]
    assert finished["payload"] == {"n": 1}
    assert finished["cold"] is True
    assert finished["log_lines"][-1].startswith("REPORT RequestId: ")
    assert set(document["fidelity"]) >= {"freeze", "cpu", "memory"}


def test_json_document_says_when_nothing_was_interrupted(tmp_path: Path, teller: socket.socket) -> None:
    cli = script_cli(tmp_path, teller, 99, "--json")
    assert told(teller) == 1
    assert cli.proc.wait(WAIT_S) == 0
    assert json.loads(cli.out.read_text())["interrupted"] is None


def test_sigterm_removes_the_unzipped_package(tmp_path: Path, teller: socket.socket) -> None:
    code = write_script_bootstrap(tmp_path / "code", TELLING)
    package = tmp_path / "function.zip"
    with zipfile.ZipFile(package, "w") as bundle:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        bundle.writestr(info, (code / "bootstrap").read_bytes())
    port = teller.getsockname()[1]
    cli = Coldlab(tmp_path, "invoke", str(package), "--env", f"TELL_PORT={port}", "--env", "STALL_AT=1")
    assert told(teller) == 1
    unzipped = list(Path(tempfile.gettempdir()).glob(f"coldlab-code-{cli.proc.pid}-*"))
    assert unzipped, "the package was not unzipped where expected"
    code_, tree = cli.stop(signal.SIGTERM)
    assert_clean(cli, signal.SIGTERM, code_, tree)
    assert not any(path.exists() for path in unzipped)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_same_for_another_command_tune(
    tmp_path: Path, teller: socket.socket, signum: signal.Signals
) -> None:
    """The mechanism is the CLI's, not invoke's: `coldlab tune` mid-run gets the same clean-up and line."""
    code = write_script_bootstrap(tmp_path / "code", TELLING)
    env = ["--env", f"TELL_PORT={teller.getsockname()[1]}", "--env", "STALL_AT=2"]
    cli = Coldlab(tmp_path, "tune", str(code), "--memory", "128", "-n", "3", "--timeout", "900", *env)
    assert [told(teller) for _ in range(2)] == [1, 2]
    code_, tree = cli.stop(signum)
    assert_clean(cli, signum, code_, tree)


@pytest.mark.go
def test_sigterm_while_a_go_function_is_frozen_between_invokes(go_build: GoBuilder, tmp_path: Path) -> None:
    code = go_build("hello-go").parent
    cli = Coldlab(tmp_path, "invoke", str(code), "--repeat", "3", "--interval", "3600000")
    cli.wait_for_stderr("REPORT RequestId: ")  # answered: frozen now, for an hour
    code_, tree = cli.stop(signal.SIGTERM)
    assert_clean(cli, signal.SIGTERM, code_, tree)
    (response,) = [json.loads(line) for line in cli.out.read_text().splitlines()]
    assert response["cold_start"] is True


@pytest.mark.go
def test_sigterm_mid_invoke_of_a_go_function(go_build: GoBuilder, tmp_path: Path) -> None:
    code = go_build("hello-go").parent
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"sleep_ms": 3_600_000}))
    cli = Coldlab(tmp_path, "invoke", str(code), "--event", str(event), "--timeout", "900")
    cli.wait_for_stderr("cold_start=true request_id=")  # the handler runs (and sleeps)
    code_, tree = cli.stop(signal.SIGTERM)
    assert_clean(cli, signal.SIGTERM, code_, tree)
    assert cli.out.read_bytes() == b""


def test_sigterm_before_the_event_loop_runs(tmp_path: Path) -> None:
    """SIGTERM during plain (not asyncio) code unwinds too: here while coldlab reads its event from a FIFO."""
    fifo = tmp_path / "event.fifo"
    os.mkfifo(fifo)
    code = write_script_bootstrap(tmp_path / "code", "next_event()")
    cli = Coldlab(tmp_path, "invoke", str(code), "--event", str(fifo))
    deadline = time.monotonic() + WAIT_S
    writer = -1
    while writer < 0:  # a non-blocking open for writing succeeds once coldlab has the FIFO open to read
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            assert time.monotonic() < deadline and cli.proc.poll() is None, cli.err.read_text()
            time.sleep(0.02)
    try:
        os.write(writer, b'{"partial": ')  # coldlab reads it and waits for the rest
        wchan = Path(f"/proc/{cli.proc.pid}/wchan")
        while "pipe_read" not in wchan.read_text():  # blocked in read(): a signal just before it would wait
            assert time.monotonic() < deadline and cli.proc.poll() is None, cli.err.read_text()
            time.sleep(0.02)
        cli.proc.send_signal(signal.SIGTERM)
        assert cli.proc.wait(WAIT_S) == 143
    finally:
        os.close(writer)
    assert cli.err.read_text() == "coldlab: terminated\n"
