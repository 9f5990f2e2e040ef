"""Real Go clients against the Extensions and Telemetry APIs: aws-lambda-go's lambda.WithEnableSIGTERM
(register with {"events":null}), the extension-go example (register, event/next, Telemetry subscription),
what an invoke waits for, and the bad extensions of issue 14 (crash, never on next, init error, registration
after init, a refusing or slow telemetry destination)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from support.extensions_go import (
    SIGTERM_FN,
    built,
    make_layer,
    run_environment,
    running,
    shared_dir,
    telemetry,
)
from support.runtime_scripts import GoBuilder, gone, run

pytestmark = pytest.mark.go
PLATFORM_TYPES = {
    "platform.initStart",
    "platform.initRuntimeDone",
    "platform.initReport",
    "platform.start",
    "platform.runtimeDone",
    "platform.report",
    "platform.extension",
    "platform.telemetrySubscription",
}


@pytest.fixture
def shared() -> Iterator[Path]:
    yield from shared_dir()


@pytest.fixture(scope="module")
def sigterm_fn(go_build: GoBuilder) -> Path:
    return built(go_build, SIGTERM_FN)


@pytest.fixture(scope="module")
def layer(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_layer(go_build, tmp_path_factory.mktemp("layers"))


def by_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r["record"] for r in records if r["type"] == kind]


def test_with_enable_sigterm_registers_its_internal_extension(sigterm_fn: Path) -> None:
    done = run_environment(sigterm_fn, [b"{}"])
    (result,) = done.results
    assert result.ok, result.payload
    assert not any("Failed to register internal extension" in line for line in done.lines)  # was a 404
    assert "EXTENSION\tName: GoLangEnableSIGTERM\tState: Ready\tEvents: []" in done.lines


def test_every_platform_record_reaches_the_subscriber_with_its_fields(
    sigterm_fn: Path, layer: Path, shared: Path
) -> None:
    ext_flush = shared / "ext.txt"
    done = run_environment(
        sigterm_fn,
        [b'{"n": 1}', b'{"n": 2}'],
        layers=[layer],
        environment={"EXTENSION_FLUSH_FILE": str(ext_flush)},
    )
    first, second = done.results
    records = telemetry(ext_flush)
    assert {r["type"] for r in records} >= PLATFORM_TYPES
    assert all(set(r) == {"time", "type", "record"} and r["time"].endswith("Z") for r in records)
    (init_start,) = by_type(records, "platform.initStart")
    assert init_start["initializationType"] == "on-demand" and init_start["phase"] == "init"
    assert init_start["functionName"] == "coldlab-function" and init_start["instanceMaxMemory"] == 128 * 2**20
    (init_done,) = by_type(records, "platform.initRuntimeDone")
    assert init_done["status"] == "success"
    (init_report,) = by_type(records, "platform.initReport")
    assert init_report["metrics"]["durationMs"] == pytest.approx(first.init_duration_ms, abs=0.001)
    starts = by_type(records, "platform.start")
    assert [s["requestId"] for s in starts] == [first.request_id, second.request_id]
    assert all(s["tracing"]["type"] == "X-Amzn-Trace-Id" and s["version"] == "$LATEST" for s in starts)
    done_records = by_type(records, "platform.runtimeDone")
    assert [d["metrics"]["producedBytes"] for d in done_records] == [len(first.payload), len(second.payload)]
    assert all(
        {s["name"] for s in d["spans"]} == {"responseLatency", "responseDuration"} for d in done_records
    )
    reports = by_type(records, "platform.report")
    assert reports[0]["metrics"]["initDurationMs"] == pytest.approx(first.init_duration_ms, abs=0.001)
    assert "initDurationMs" not in reports[1]["metrics"]
    assert reports[1]["metrics"]["billedDurationMs"] == second.billed_duration_ms
    assert reports[1]["metrics"]["memorySizeMB"] == 128 and reports[1]["status"] == "success"
    subscription = by_type(records, "platform.telemetrySubscription")
    assert subscription == [
        {"name": "extension-go", "state": "Subscribed", "types": ["platform", "function"]}
    ]
    extensions = {e["name"]: e for e in by_type(records, "platform.extension")}
    assert extensions["extension-go"] == {
        "name": "extension-go",
        "state": "Ready",
        "events": ["INVOKE", "SHUTDOWN"],
    }
    assert "TELEMETRY\tName: extension-go\tState: Subscribed\tTypes: [Platform, Function]" in done.lines
    assert "EXTENSION\tName: extension-go\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in done.lines


def test_the_invoke_ends_when_the_extension_is_back_on_next(sigterm_fn: Path, layer: Path) -> None:
    """The extension works 300 ms on each INVOKE: the invoke phase (Duration) covers it, the runtime's
    answer is the function's, and the extension's share is reported."""
    done = run_environment(sigterm_fn, [b"{}"], layers=[layer], environment={"EXTENSION_INVOKE_MS": "300"})
    (result,) = done.results
    assert result.ok and result.payload == b'{"buffered":1}'
    # It got INVOKE after the invoke phase began and slept 300 ms: the phase lasts at least that, and ends
    # after the runtime's part.
    assert result.duration_ms >= 300
    assert 0 < result.extensions_overhead_ms < result.duration_ms
    assert result.as_dict()["extensions_overhead_ms"] == round(result.extensions_overhead_ms, 3)


def test_an_extension_that_crashes_during_the_invoke_fails_the_environment(
    sigterm_fn: Path, layer: Path
) -> None:
    done = run_environment(
        sigterm_fn, [b"{}"], layers=[layer], environment={"EXTENSION_MODE": "crash-on-invoke"}
    )
    (result,) = done.results
    assert result.status == "error" and result.error_type == "Extension.Crash"
    assert any(
        line.endswith("Error: Extension extension-go exited with error: exit status 3") for line in done.lines
    )
    assert result.log_lines[-1].endswith("\tStatus: error\tError Type: Extension.Crash")
    assert done.shutdown is not None and done.shutdown.reason == "failure"
    assert running("extension-go") == []


def test_an_extension_that_never_asks_for_an_event_times_init_out(sigterm_fn: Path, layer: Path) -> None:
    done = run_environment(
        sigterm_fn,
        [b"{}"],
        layers=[layer],
        environment={"EXTENSION_MODE": "no-next"},
        env_options={"init_timeout_s": 1.0},
        timeout_s=1,
    )
    (result,) = done.results
    init_report = next(line for line in done.lines if line.startswith("INIT_REPORT"))
    assert init_report.endswith("\tPhase: init\tStatus: timeout")
    assert result.status == "timeout"  # the suppressed re-init inside the invoke waits in vain too
    assert running("extension-go") == []


def test_an_extension_init_error_fails_init_with_its_type(sigterm_fn: Path, layer: Path) -> None:
    done = run_environment(sigterm_fn, [b"{}"], layers=[layer], environment={"EXTENSION_MODE": "init-error"})
    init_report = next(line for line in done.lines if line.startswith("INIT_REPORT"))
    assert init_report.endswith("\tPhase: init\tStatus: error\tError Type: Extension.ConfigInvalid")
    assert done.results[0].status == "error"
    assert running("extension-go") == []


def test_registration_after_init_is_closed(sigterm_fn: Path) -> None:
    async def go() -> tuple[int, dict[str, Any]]:
        async with Environment(FunctionConfig.create(sigterm_fn)) as env:
            await env.invoke(b"{}")
            url = f"http://{env.runtime_api}/2020-01-01/extension/register"
            async with aiohttp.ClientSession() as session:
                headers = {"Lambda-Extension-Name": "late"}
                async with session.post(url, data=b'{"events":[]}', headers=headers) as reply:
                    return reply.status, await reply.json()

    status, body = run(go())
    assert status == 403
    assert body == {
        "errorMessage": "Extension registration closed already",
        "errorType": "Extension.RegistrationClosed",
    }


def test_a_refusing_destination_drops_records_and_never_blocks(sigterm_fn: Path, layer: Path) -> None:
    done = run_environment(
        sigterm_fn, [b"{}"] * 3, layers=[layer], environment={"EXTENSION_MODE": "refused-destination"}
    )
    assert all(result.ok for result in done.results)
    dropped = next(line for line in done.lines if line.startswith("Telemetry: "))
    assert int(dropped.split()[1]) > 0 and dropped.endswith(
        "records dropped (a subscriber was slow or refused them)"
    )


def test_a_slow_destination_loses_a_batch_and_is_told_with_logs_dropped(
    sigterm_fn: Path, layer: Path, shared: Path
) -> None:
    ext_flush = shared / "ext.txt"
    # The extension answers its first delivery after 1.5 s, longer than a delivery may take; it keeps the
    # environment busy (not frozen) for 1.2 s on each INVOKE, so deliveries go on meanwhile.
    environment = {
        "EXTENSION_FLUSH_FILE": str(ext_flush),
        "EXTENSION_SLOW_FIRST_MS": "1500",
        "EXTENSION_INVOKE_MS": "1200",
    }
    done = run_environment(sigterm_fn, [b"{}", b"{}"], layers=[layer], environment=environment, timeout_s=5)
    assert all(result.ok for result in done.results)
    dropped = by_type(telemetry(ext_flush), "platform.logsDropped")
    assert dropped and dropped[0]["droppedRecords"] > 0 and dropped[0]["droppedBytes"] > 0
    assert dropped[0]["reason"]


def test_invoke_json_document_carries_the_extension_overhead_field(sigterm_fn: Path) -> None:
    done = run_environment(sigterm_fn, [b"{}"])
    document = done.results[0].as_dict()
    assert document["extensions_overhead_ms"] >= 0 and document["emf"] == []
    json.dumps(document)
    assert gone(done.pids)
