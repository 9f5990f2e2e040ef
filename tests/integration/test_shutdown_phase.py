"""The shutdown phase with real processes (the seed's graceful-shutdown claim): with no extension the runtime
is killed without SIGTERM and its in-memory buffer is lost; with lambda.WithEnableSIGTERM's internal extension
it gets SIGTERM and flushes within 500 ms; a flush that needs 2 s is cut off; an external extension gets
SHUTDOWN (spindown, timeout, failure) and its share of the 2,000 ms; one that hangs is killed. Assertions are
on the flush files, the log and the processes, never on elapsed time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.extensions_go import (
    SIGTERM_FN,
    built,
    make_layer,
    run_environment,
    running,
    shared_dir,
    shutdown_reason,
    telemetry,
)
from support.runtime_scripts import GoBuilder, gone

pytestmark = pytest.mark.go
EVENTS = [b'{"n": 1}', b'{"n": 2}']


@pytest.fixture
def shared() -> Iterator[Path]:
    yield from shared_dir()


@pytest.fixture(scope="module")
def sigterm_fn(go_build: GoBuilder) -> Path:
    return built(go_build, SIGTERM_FN)


@pytest.fixture(scope="module")
def layer(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_layer(go_build, tmp_path_factory.mktemp("layers"))


def test_no_extension_no_sigterm_the_buffer_is_lost(sigterm_fn: Path, shared: Path) -> None:
    flush = shared / "flush.txt"
    done = run_environment(sigterm_fn, EVENTS, environment={"NO_SIGTERM": "1", "FLUSH_FILE": str(flush)})
    assert [r.payload for r in done.results] == [b'{"buffered":1}', b'{"buffered":2}']
    assert not flush.exists()  # SIGKILL only: the two buffered events are gone
    assert done.shutdown is not None
    assert done.shutdown.sigterm is False and done.shutdown.runtime == "sigkill"
    assert done.shutdown.budget.total_ms == 0
    assert "Runtime: SIGKILL (no extension is registered, so no SIGTERM)" in done.lines
    assert not any(line.startswith("sigterm:") for line in done.lines)
    assert gone(done.pids)


def test_with_enable_sigterm_the_buffer_is_flushed_within_500_ms(sigterm_fn: Path, shared: Path) -> None:
    flush = shared / "flush.txt"
    done = run_environment(sigterm_fn, EVENTS, environment={"FLUSH_FILE": str(flush)})
    assert flush.read_text().splitlines() == ['{"n": 1}', '{"n": 2}']
    assert done.shutdown is not None and done.shutdown.sigterm is True
    assert done.shutdown.budget.total_ms == done.shutdown.budget.runtime_ms == 500
    assert "EXTENSION\tName: GoLangEnableSIGTERM\tState: Ready\tEvents: []" in done.lines
    assert "sigterm: flushed 2 events" in done.lines
    shutdown_line = next(line for line in done.lines if line.startswith("SHUTDOWN "))
    assert shutdown_line == (
        "SHUTDOWN Reason: spindown\tBudget: 500 ms\tRuntime Share: 500 ms\tExtensions: [GoLangEnableSIGTERM]"
    )
    # aws-lambda-go runs the callbacks but does not exit on SIGTERM: the budget ends with SIGKILL, as on Lambda.
    assert done.shutdown.runtime == "killed"
    assert gone(done.pids)


def test_a_flush_that_needs_2_s_is_cut_off(sigterm_fn: Path, shared: Path) -> None:
    flush = shared / "flush.txt"
    done = run_environment(
        sigterm_fn, EVENTS, environment={"FLUSH_FILE": str(flush), "FLUSH_DELAY_MS": "2000"}
    )
    assert "sigterm: flushing 2 events (takes 2000 ms)" in done.lines  # SIGTERM came and the flush began
    assert not flush.exists()  # ... and SIGKILL came first
    assert "Deadline: The runtime did not exit after deadline 500 ms; Killing it." in done.lines
    assert done.shutdown is not None and done.shutdown.runtime == "killed"
    assert gone(done.pids)


def test_an_external_extension_gets_shutdown_and_flushes_its_telemetry(
    sigterm_fn: Path, layer: Path, shared: Path
) -> None:
    flush, ext_flush = shared / "flush.txt", shared / "ext.txt"
    environment = {"FLUSH_FILE": str(flush), "EXTENSION_FLUSH_FILE": str(ext_flush)}
    done = run_environment(sigterm_fn, EVENTS, layers=[layer], environment=environment)
    assert done.shutdown is not None
    assert done.shutdown.budget.total_ms == 2000
    assert done.shutdown.budget.runtime_ms == 500  # an internal extension is registered too
    assert done.shutdown.extensions == {"extension-go": "exited"}
    assert flush.read_text().splitlines() == ['{"n": 1}', '{"n": 2}']
    assert shutdown_reason(ext_flush) == "shutdown spindown"
    records = telemetry(ext_flush)
    reports = [r["record"]["requestId"] for r in records if r["type"] == "platform.report"]
    assert reports == [r.request_id for r in done.results]  # the last report too: sent before SHUTDOWN
    functions = [r["record"] for r in records if r["type"] == "function"]
    assert "sigterm: flushed 2 events" in functions  # the runtime's SIGTERM output reached the extension
    assert any(line.startswith("Extension extension-go: SHUTDOWN, exited after ") for line in done.lines)
    assert gone(done.pids)


def test_an_extension_that_hangs_in_shutdown_is_killed(sigterm_fn: Path, layer: Path, shared: Path) -> None:
    ext_flush = shared / "ext.txt"
    environment = {"EXTENSION_FLUSH_FILE": str(ext_flush), "EXTENSION_FLUSH_DELAY_MS": "5000"}
    done = run_environment(sigterm_fn, EVENTS[:1], layers=[layer], environment=environment)
    assert done.shutdown is not None and done.shutdown.extensions == {"extension-go": "killed"}
    assert not ext_flush.exists()
    assert "extension-go: flushing (takes 5s)" in done.lines
    assert any(
        line.startswith("Deadline: the extension extension-go did not exit after deadline ")
        and line.endswith(" ms; Killing it.")
        for line in done.lines
    )
    assert gone(done.pids)
    assert running("extension-go") == []


@pytest.mark.parametrize(
    ("event", "reason"), [(b'{"sleep_ms": 3000}', "timeout"), (b'{"panic": true}', "failure")]
)
def test_a_reset_after_a_timeout_or_crash_sends_shutdown_with_its_reason(
    go_build: GoBuilder, layer: Path, shared: Path, event: bytes, reason: str
) -> None:
    hello = go_build("hello-aws-lambda-go").parent
    ext_flush = shared / "ext.txt"
    done = run_environment(
        hello, [event], layers=[layer], environment={"EXTENSION_FLUSH_FILE": str(ext_flush)}, timeout_s=1
    )
    (result,) = done.results
    assert result.status == ("timeout" if reason == "timeout" else "error")
    assert shutdown_reason(ext_flush) == f"shutdown {reason}"
    assert any(line.startswith(f"SHUTDOWN Reason: {reason}\t") for line in done.lines)
    assert gone(done.pids)
