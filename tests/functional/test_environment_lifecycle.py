"""The execution environment end to end: real bootstraps, real Runtime API, real processes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from support.runtime_scripts import GoBuilder, ScriptFactory, gone, run

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def invoke_all(
    code: Path, events: list[bytes], pause_s: float = 0.0, **options: Any
) -> list[InvocationResult]:
    env_options = {key: options.pop(key) for key in ("init_timeout_s",) if key in options}

    async def go() -> list[InvocationResult]:
        config = FunctionConfig.create(code, **options)
        async with Environment(config, **env_options) as env:
            results = []
            for index, event in enumerate(events):
                if index and pause_s:
                    await asyncio.sleep(pause_s)  # the environment is frozen meanwhile
                results.append(await env.invoke(event))
            return results

    result: list[InvocationResult] = run(go())
    return result


@pytest.fixture(scope="module")
def hello(go_build: GoBuilder) -> Path:
    return go_build("hello-go").parent


def test_go_cold_then_warm_logs_and_reports(hello: Path) -> None:
    cold, warm = invoke_all(hello, [b'{"name":"a"}', b'{"name":"b"}'], memory_mb=256)
    assert json.loads(cold.payload)["message"] == "hello, a"
    assert json.loads(cold.payload)["cold_start"] is True
    assert json.loads(warm.payload)["cold_start"] is False
    assert cold.cold and not warm.cold
    assert cold.init_duration_ms is not None and cold.init_duration_ms > 0
    assert warm.init_duration_ms is None

    rid = cold.request_id
    lines = list(cold.log_lines)
    assert lines[0].startswith("INIT_START Runtime Version: ")
    assert lines[1] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[2] == f"cold_start=true request_id={rid}"
    assert lines[3] == f"END RequestId: {rid}"
    report = re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: (\d+) MB\tInit Duration: (\d+\.\d\d) ms\t",
        lines[4],
    )
    assert report, lines[4]
    duration, billed, used, init = float(report[1]), int(report[2]), int(report[3]), float(report[4])
    assert billed >= duration + init  # provided runtimes bill init, rounded up to 1 ms
    assert 1 <= used < 256  # the real resident peak, not a copy of Memory Size
    assert re.fullmatch(
        rf"REPORT RequestId: {warm.request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\t",
        warm.log_lines[-1],
    )
    assert warm.log_lines[0] == f"START RequestId: {warm.request_id} Version: $LATEST"


def test_next_headers_reach_the_function(hello: Path) -> None:
    before = time.time() * 1000
    (result,) = invoke_all(hello, [b"{}"], timeout_s=7, memory_mb=512)
    body = json.loads(result.payload)
    assert re.fullmatch(UUID, body["request_id"])
    deadline = int(body["deadline_ms"])
    assert before + 6000 < deadline < time.time() * 1000 + 7000  # epoch milliseconds, now + timeout
    assert body["memory_mb"] == "512"


def test_function_error_is_unhandled_with_the_document(hello: Path) -> None:
    (result,) = invoke_all(hello, [b'{"fail": true, "name": "x"}'])
    assert result.function_error == "Unhandled"
    assert result.status == "error"
    error = json.loads(result.payload)
    assert error["errorType"] == "errorString"
    assert error["stackTrace"][0]["label"] == "handle"  # object frames, as aws-lambda-go sends
    assert "Status:" not in result.log_lines[-1]


def test_crash_mid_invoke_is_runtime_exit_error_and_next_invoke_reinits(hello: Path) -> None:
    crashed, after = invoke_all(hello, [b'{"crash": true}', b"{}"])
    assert crashed.function_error == "Unhandled"
    assert json.loads(crashed.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3",
    }
    assert "crashing on purpose" in crashed.log_lines
    assert (
        f"RequestId: {crashed.request_id} Error: Runtime exited with error: exit status 3"
        in crashed.log_lines
    )
    assert crashed.log_lines[-1].endswith("\tStatus: error\tError Type: Runtime.ExitError")
    # Suppressed init: the next invoke starts a new process, inside its own duration (no Init Duration).
    assert after.ok and after.cold and after.init_duration_ms is None
    assert json.loads(after.payload)["cold_start"] is True
    assert not any(line.startswith("INIT_START") for line in after.log_lines)


def test_invoke_timeout_kills_and_recreates(hello: Path) -> None:
    timed_out, after = invoke_all(hello, [b'{"sleep_ms": 3000}', b"{}"], timeout_s=1)
    rid = timed_out.request_id
    assert timed_out.status == "timeout"
    assert json.loads(timed_out.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds",
    }
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1.00 seconds",
        timed_out.log_lines[-3],
    )
    assert timed_out.log_lines[-1].endswith(
        "\tDuration: 1000.00 ms\tBilled Duration: "
        f"{timed_out.billed_duration_ms} ms\tMemory Size: 128 MB\t"
        f"Max Memory Used: {timed_out.max_memory_used_mb} MB\t"
        f"Init Duration: {timed_out.init_duration_ms:.2f} ms\tStatus: timeout"
    )
    assert after.ok and after.cold
    assert json.loads(after.payload)["cold_start"] is True


def test_oversized_response(hello: Path) -> None:
    (result,) = invoke_all(hello, [json.dumps({"size": 6 * 1024 * 1024 + 200}).encode()])
    error = json.loads(result.payload)
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert re.fullmatch(
        r"Response payload size \(\d+ bytes\) exceeded maximum allowed payload size \(6291556 bytes\)\.",
        error["errorMessage"],
    )
    assert result.function_error == "Unhandled"


def test_init_error_posted_is_reported_and_retried_inside_the_invoke(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap(
        """
        body = json.dumps({"errorMessage": "missing TABLE_NAME", "errorType": "Runtime.ConfigInvalid"})
        print("init failing")
        status, _, _ = call("POST", "/init/error", body, {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigInvalid"})
        sys.exit(1)
        """
    )
    (result,) = invoke_all(code, [b"{}"])
    assert json.loads(result.payload) == {
        "errorMessage": "missing TABLE_NAME",
        "errorType": "Runtime.ConfigInvalid",
    }
    assert result.function_error == "Unhandled"
    init_reports = [line for line in result.log_lines if line.startswith("INIT_REPORT")]
    assert re.fullmatch(
        r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Runtime.ConfigInvalid",
        init_reports[0],
    )
    assert re.fullmatch(
        r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: invoke\tStatus: error\tError Type: Runtime.ConfigInvalid",
        init_reports[1],
    )


def test_init_crash(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap("print('exploding during init'); sys.exit(4)")
    first, second = invoke_all(code, [b"{}", b"{}"])
    assert any(
        re.fullmatch(
            r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: "
            r"Runtime.ExitError",
            line,
        )
        for line in first.log_lines
    )
    assert json.loads(first.payload)["errorType"] == "Runtime.ExitError"
    assert "exit status 4" in json.loads(first.payload)["errorMessage"]
    # The next invoke re-runs init (suppressed, no INIT_START), which fails again the same way.
    assert not any(line.startswith("INIT_START") for line in second.log_lines)
    assert json.loads(second.payload)["errorType"] == "Runtime.ExitError"


def test_init_timeout_then_suppressed_init_under_the_function_timeout(
    script_bootstrap: ScriptFactory,
) -> None:
    code = script_bootstrap("time.sleep(30)")
    (result,) = invoke_all(code, [b"{}"], init_timeout_s=0.3, timeout_s=1)
    assert re.fullmatch(
        r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: timeout", result.log_lines[1]
    )
    assert result.status == "timeout"
    assert json.loads(result.payload)["errorType"] == "Sandbox.Timedout"


def test_double_response_and_stale_request_id_get_lambdas_errors(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap(
        """
        while True:
            rid, headers, body = next_event()
            s1, _, b1 = respond("not-the-id", b'"wrong"')
            s2, _, _ = respond(rid, b'"first"')
            s3, _, b3 = respond(rid, b'"second"')
            s4, _, b4 = call("POST", f"/invocation/{rid}/error", b"garbage")
            print(json.dumps({"wrong_id": [s1, json.loads(b1)], "first": s2, "second": [s3, json.loads(b3)],
                              "error_after": s4}))
        """
    )
    first, second = invoke_all(code, [b"{}", b"{}"])
    assert first.payload == b'"first"' and second.payload == b'"first"'
    statuses = json.loads(second.log_lines[1])
    assert statuses["wrong_id"] == [
        400,
        {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"},
    ]
    assert statuses["first"] == 202
    assert statuses["second"][0] == 403
    assert statuses["second"][1]["errorType"] == "InvalidStateTransition"
    assert statuses["error_after"] == 403


def test_streamed_chunked_response_is_returned_buffered(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap(
        """
        while True:
            rid, headers, body = next_event()
            conn = http.client.HTTPConnection(HOST, int(PORT))
            conn.putrequest("POST", f"{BASE}/invocation/{rid}/response")
            conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.putheader("Content-Type", "text/plain")
            conn.endheaders()
            for part in (b"hello ", b"streaming ", b"world"):
                conn.send(b"%x\\r\\n%s\\r\\n" % (len(part), part))
            conn.send(b"0\\r\\n\\r\\n")
            print("stream status", conn.getresponse().status)
        """
    )
    (result,) = invoke_all(code, [b"{}"])
    assert result.payload == b"hello streaming world"
    assert result.streamed
    assert result.content_type == "text/plain"
    assert "stream status 202" in result.log_lines


def test_frozen_between_invokes_no_background_ticks(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap(
        """
        import threading
        ticks = 0
        def tick():
            global ticks
            while True:
                time.sleep(0.01)
                ticks += 1
        threading.Thread(target=tick, daemon=True).start()
        while True:
            rid, headers, body = next_event()
            respond(rid, json.dumps({"ticks": ticks, "t": time.monotonic()}).encode())
        """
    )
    first, second = invoke_all(code, [b"{}", b"{}"], pause_s=0.6)
    a, b = json.loads(first.payload), json.loads(second.payload)
    elapsed = b["t"] - a["t"]
    assert elapsed >= 0.6
    # ~60 ticks would have happened in 0.6 s if the process ran; frozen, at most a couple slip through.
    assert b["ticks"] - a["ticks"] <= 5, (a, b)


def test_no_process_left_behind_after_close_or_timeout(hello: Path) -> None:
    async def go() -> tuple[int, int]:
        config = FunctionConfig.create(hello, timeout_s=1)
        async with Environment(config) as env:
            await env.invoke(b"{}")
            first_pid = env.pid
            await env.invoke(b'{"sleep_ms": 2500}')  # times out: killed
            assert env.pid is None
            await env.invoke(b"{}")
            second_pid = env.pid
        assert first_pid is not None and second_pid is not None
        return first_pid, second_pid

    first_pid, second_pid = run(go())
    assert first_pid != second_pid
    assert gone([first_pid, second_pid])


def test_an_invoke_queued_behind_another_runs_unfrozen_and_the_log_stays_in_order(hello: Path) -> None:
    """Lambda freezes a runtime that is back on /next with nothing queued; with an invoke already waiting
    for this environment, it gets it at once: one freeze for three back-to-back invokes, after the last."""
    lines: list[str] = []

    async def go() -> tuple[list[InvocationResult], int, int]:
        config = FunctionConfig.create(hello, memory_mb=1769)
        async with Environment(config, log_sink=lines.append) as env:
            await env.invoke(b"{}")  # cold, then frozen
            before = env.freezes
            results = await asyncio.gather(*(env.invoke(json.dumps({"name": n}).encode()) for n in "xyz"))
            return list(results), before, env.freezes

    results, before, after = run(go())
    assert [json.loads(r.payload)["message"] for r in results] == ["hello, x", "hello, y", "hello, z"]
    assert after - before == 1
    per_request = [line.split()[0] for line in lines if line.startswith(("START", "END", "REPORT"))]
    assert per_request == ["START", "END", "REPORT"] * 4  # every END/REPORT before the next START
