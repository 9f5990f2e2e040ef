"""aws-lambda-go through coldlab's lifecycle: a panic ends the process and the next invoke re-initialises,
a timeout likewise, the 6 MiB + 100 B response limit to the byte, init failures before lambda.Start, a
goroutine that stops while the environment is frozen, and `coldlab invoke` on the example."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from support.lambda_go import HELLO, MODES, GoFunction, build, invoke_all, reply
from support.runtime_scripts import GoBuilder, gone, run

pytestmark = pytest.mark.go

MEMORY_MB = 1024
MAX_RESPONSE = 6 * 1024 * 1024 + 100  # 6,291,556 bytes (reference §1.5)


@pytest.fixture(scope="module", params=MODES)
def hello(request: pytest.FixtureRequest, go_build: GoBuilder) -> GoFunction:
    return build(go_build, HELLO, request.param)


def test_panic_reports_frames_exits_and_the_next_invoke_initialises_again(hello: GoFunction) -> None:
    async def go() -> tuple[InvocationResult, InvocationResult, InvocationResult, list[int]]:
        config = FunctionConfig.create(hello.code, memory_mb=MEMORY_MB)
        async with Environment(config) as env:
            before = await env.invoke(b"{}")
            pids = [env.pid or 0]
            panicked = await env.invoke(b'{"panic": true, "name": "p"}')
            assert env.pid is None  # the environment was reset: no process is kept
            again = await env.invoke(b"{}")
            pids.append(env.pid or 0)
            return before, panicked, again, pids

    before, panicked, again, (old_pid, new_pid) = run(go())
    error = reply(panicked)  # what the caller gets: aws-lambda-go's report of the panic
    assert panicked.function_error == "Unhandled"
    assert error["errorType"] == "string"  # the panic value's Go type
    assert error["errorMessage"] == 'panicking on purpose for "p"'
    frames = error["stackTrace"]
    assert frames and all(set(frame) == {"path", "line", "label"} for frame in frames)
    assert any(f["label"] == "handle" and f["path"].endswith("hello-aws-lambda-go/main.go") for f in frames)
    assert any(
        line.endswith("Error: Runtime exited with error: exit status 1") for line in panicked.log_lines
    )
    report = panicked.log_lines[-1]
    assert report.startswith("REPORT ") and report.endswith("\tStatus: error\tError Type: Runtime.ExitError")
    assert gone([old_pid])
    assert new_pid != old_pid
    assert reply(again)["cold_start"] is True  # a new process: package state was initialised again
    assert reply(again)["pid"] != reply(before)["pid"]
    assert again.ok and again.cold
    assert again.init_duration_ms is None  # the re-init ran inside the invoke (suppressed), not as INIT


def test_timeout_kills_and_the_next_invoke_gets_a_fresh_process(hello: GoFunction) -> None:
    """The shape of issue 10 §3: the handler returns ctx.Err() at the deadline, just as the kill comes."""
    first, timed_out, after = invoke_all(
        hello.code, [(b"{}", {}), (b'{"sleep_ms": 3000}', {}), (b"{}", {})], memory_mb=MEMORY_MB, timeout_s=1
    )
    assert timed_out.status == "timeout"
    assert reply(timed_out)["errorType"] == "Sandbox.Timedout"
    assert after.ok, after.payload  # not a stale connection's 403, nor Runtime.ExitError
    assert reply(after)["cold_start"] is True
    assert reply(after)["pid"] != reply(first)["pid"]


@pytest.mark.parametrize("size", [MAX_RESPONSE, MAX_RESPONSE + 1])
def test_response_size_limit_to_the_byte(hello: GoFunction, size: int) -> None:
    big, after = invoke_all(
        hello.code, [(json.dumps({"size": size}).encode(), {}), (b"{}", {})], memory_mb=1769
    )
    if size == MAX_RESPONSE:
        assert big.ok, big.payload[:300]
        assert len(big.payload) == size
        assert reply(big)["padding"] == "x" * len(reply(big)["padding"])
        assert not after.cold  # the runtime carried on
        return
    assert reply(big) == {
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
        f"({MAX_RESPONSE} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert big.function_error == "Unhandled"
    # aws-lambda-go treats the 413 as fatal and exits; the next invoke starts a new process.
    assert after.ok and reply(after)["cold_start"] is True


@pytest.mark.parametrize(
    ("how", "reason", "output"),
    [
        ("panic", "exit status 2", "panic: HELLO_INIT=panic: failing in init() on purpose"),
        ("exit", "exit status 1", "HELLO_INIT=exit: exiting before lambda.Start on purpose"),
    ],
)
def test_init_failure_before_lambda_start(hello: GoFunction, how: str, reason: str, output: str) -> None:
    (result,) = invoke_all(hello.code, [(b"{}", {})], memory_mb=MEMORY_MB, environment={"HELLO_INIT": how})
    error = reply(result)
    assert error["errorType"] == "Runtime.ExitError" == result.error_type
    assert (
        error["errorMessage"] == f"RequestId: {result.request_id} Error: Runtime exited with error: {reason}"
    )
    init_reports = [line for line in result.log_lines if line.startswith("INIT_REPORT ")]
    assert len(init_reports) == 2  # the init phase, then its retry inside the invoke
    assert init_reports[0].endswith("\tPhase: init\tStatus: error\tError Type: Runtime.ExitError")
    assert init_reports[1].endswith("\tPhase: invoke\tStatus: error\tError Type: Runtime.ExitError")
    assert result.log_lines.count(output) == 2  # the function's own words, from both attempts
    assert result.init_duration_ms is None


def test_the_deadline_after_a_suppressed_re_init_is_the_invokes_own(hello: GoFunction) -> None:
    """After a panic the next invoke re-runs init (700 ms here) inside its own time. The handler then gives
    up 500 ms before ctx's deadline: that only beats coldlab's kill if ctx's deadline is the invoke's
    (accepted + timeout), not one computed after the re-init (700 ms later than the kill)."""
    panicked, gave_up = invoke_all(
        hello.code,
        [(b'{"panic": true}', {}), (b'{"sleep_ms": 60000, "reserve_ms": 500}', {})],
        memory_mb=MEMORY_MB,
        timeout_s=3,
        environment={"HELLO_INIT_SLEEP_MS": "700"},
    )
    assert reply(panicked)["errorType"] == "string"
    assert gave_up.init_duration_ms is None  # suppressed: no Init Duration, the time counts as the invoke's
    assert gave_up.duration_ms >= 700  # it includes the re-init
    assert gave_up.status == "error", gave_up.payload  # not "timeout"
    assert reply(gave_up)["errorType"] == "deadlineExceededError"


def test_init_time_is_reported_as_init_duration(hello: GoFunction) -> None:
    (slow,) = invoke_all(
        hello.code, [(b"{}", {})], memory_mb=MEMORY_MB, environment={"HELLO_INIT_SLEEP_MS": "200"}
    )
    assert slow.ok and slow.init_duration_ms is not None
    assert slow.init_duration_ms >= 200  # init() slept that long before lambda.Start asked for /next


def test_goroutine_started_in_init_does_not_run_while_frozen(hello: GoFunction) -> None:
    """The ticker ticks every 10 ms. It runs while an invoke sleeps; across a second of idleness (frozen)
    it must not: unfrozen, that second would add about 100 ticks."""

    async def go() -> tuple[dict[str, int], dict[str, int]]:
        async with Environment(FunctionConfig.create(hello.code, memory_mb=MEMORY_MB)) as env:
            if "freeze" not in env.fidelity.freeze:
                pytest.skip(f"no freezer on this machine ({env.fidelity.freeze})")
            busy = reply(await env.invoke(b'{"sleep_ms": 300}'))
            await asyncio.sleep(1.0)  # idle: the environment is frozen meanwhile
            idle = reply(await env.invoke(b"{}"))
            return busy, idle

    busy, idle = run(go())
    assert busy["ticks_at_end"] - busy["ticks_at_start"] >= 5  # the goroutine does run when not frozen
    assert idle["ticks_at_start"] - busy["ticks_at_end"] <= 5  # one late tick after the thaw, no backlog


def test_coldlab_invoke_runs_the_example(hello: GoFunction, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"name": "cli"}')
    done = subprocess.run(
        [sys.executable, "-m", "coldlab", "invoke", str(hello.code), "--event", str(event), "--repeat", "2",
         "--memory", "256", "--function-name", "alg-cli"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cold, warm = (json.loads(line) for line in done.stdout.splitlines())
    assert (cold["cold_start"], warm["cold_start"]) == (True, False)
    assert cold["message"] == "hello, cli"
    assert cold["context"]["function_name"] == "alg-cli"
    assert cold["context"]["memory_limit_in_mb"] == 256
    reports = [line for line in done.stderr.splitlines() if line.startswith("REPORT ")]
    assert [line.split()[2] for line in reports] == [
        cold["context"]["aws_request_id"],
        warm["context"]["aws_request_id"],
    ]
