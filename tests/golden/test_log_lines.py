"""Platform log lines, byte for byte (reference §4.1)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from coldlab.logs import JsonLogFormat, TextLogFormat, text
from coldlab.platform.failures import exit_reason

RID = "dbda340c-xmpl-4031-8810-11bb609b4c71"


def test_start_and_end() -> None:
    assert text.start(RID) == f"START RequestId: {RID} Version: $LATEST"
    assert text.end(RID) == f"END RequestId: {RID}"


def test_cold_report_matches_lambda_byte_for_byte() -> None:
    line = text.report(
        RID, duration_ms=38.66, billed_duration_ms=39, memory_mb=128, max_memory_used_mb=54, init_ms=203.69
    )
    assert line == (
        f"REPORT RequestId: {RID}\tDuration: 38.66 ms\tBilled Duration: 39 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 54 MB\tInit Duration: 203.69 ms\t"
    )


def test_warm_report_has_no_init_duration() -> None:
    line = text.report(RID, duration_ms=1.5, billed_duration_ms=2, memory_mb=1769, max_memory_used_mb=20)
    assert line == (
        f"REPORT RequestId: {RID}\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 1769 MB\t"
        "Max Memory Used: 20 MB\t"
    )


def test_timeout_report_carries_status() -> None:
    line = text.report(
        RID,
        duration_ms=3000,
        billed_duration_ms=3000,
        memory_mb=1024,
        max_memory_used_mb=64,
        status="timeout",
    )
    assert line.endswith("Max Memory Used: 64 MB\tStatus: timeout")


def test_init_report_lines() -> None:
    assert text.init_report(9999.79, phase="init", status="timeout") == (
        "INIT_REPORT Init Duration: 9999.79 ms\tPhase: init\tStatus: timeout"
    )
    assert text.init_report(10.17, phase="init", status="error", error_type="Runtime.ExitError") == (
        "INIT_REPORT Init Duration: 10.17 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError"
    )


def test_billed_duration_rounds_up_and_includes_init() -> None:
    assert text.billed_ms(1233.96, 463.512) == 1698  # observed on real Lambda (reference §4.1)
    assert text.billed_ms(1.0) == 1
    assert text.billed_ms(1.01) == 2


def test_timed_out_line() -> None:
    now = datetime(2024, 6, 17, 17, 23, 55, 826000, tzinfo=UTC)
    assert text.timed_out(RID, 3, now) == f"2024-06-17T17:23:55.826Z {RID} Task timed out after 3.00 seconds"


def test_init_start_shape() -> None:
    line = text.init_start("eu-west-1")
    prefix = "INIT_START Runtime Version: provided:al2023.coldlab\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:"
    assert line.startswith(prefix)
    assert len(line) - len(prefix) == 64


def test_exit_reasons_are_worded_like_go() -> None:
    assert exit_reason(2) == "exit status 2"
    assert exit_reason(-9) == "signal: killed"
    assert exit_reason(-11) == "signal: segmentation fault"
    assert text.runtime_exited(RID, "exit status 2") == [
        f"RequestId: {RID} Error: Runtime exited with error: exit status 2",
        "Runtime.ExitError",
    ]


def test_memory_used_rounds_up_to_whole_megabytes() -> None:
    assert text.memory_used_mb(7 * 1024 * 1024) == 7
    assert text.memory_used_mb(7 * 1024 * 1024 + 1) == 8


def test_json_format_records_follow_the_telemetry_shapes() -> None:
    fmt = JsonLogFormat("fn", "$LATEST", "us-east-1")
    figures = text.ReportFigures(
        duration_ms=18.5934,
        billed_duration_ms=19,
        memory_mb=2048,
        max_memory_used_mb=246,
        init_ms=None,
        status="success",
    )
    report = json.loads(fmt.report(RID, figures))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", report["time"])
    assert report["type"] == "platform.report"
    assert report["record"] == {
        "requestId": RID,
        "metrics": {
            "durationMs": 18.593,
            "billedDurationMs": 19,
            "memorySizeMB": 2048,
            "maxMemoryUsedMB": 246,
        },
        "status": "success",
    }
    timeout = json.loads(fmt.report(RID, text.ReportFigures(5000.0, 5000, 128, 94, 120.5, "timeout")))
    assert timeout["record"]["status"] == "timeout"
    assert timeout["record"]["metrics"]["initDurationMs"] == 120.5
    assert json.loads(fmt.start(RID))["record"] == {"requestId": RID, "version": "$LATEST"}
    done = json.loads(fmt.end(RID, status="error", duration_ms=1.23456, produced_bytes=10))
    assert done["type"] == "platform.runtimeDone"
    assert done["record"] == {
        "requestId": RID,
        "status": "error",
        "metrics": {"durationMs": 1.235, "producedBytes": 10},
    }
    init = json.loads(fmt.init_report(10.17, phase="init", status="error", error_type="Runtime.ExitError"))
    assert init["type"] == "platform.initReport"
    assert init["record"]["phase"] == "init"
    assert init["record"]["errorType"] == "Runtime.ExitError"
    start = json.loads(fmt.init_start())
    assert start["type"] == "platform.initStart"
    assert start["record"]["functionName"] == "fn"


def test_text_format_shows_status_only_for_timeouts_and_platform_errors() -> None:
    fmt = TextLogFormat("fn", "$LATEST", "us-east-1")
    handled = text.ReportFigures(2.0, 2, 128, 10, None, "error")
    assert "Status" not in fmt.report(RID, handled)
    crashed = text.ReportFigures(
        2.0, 2, 128, 10, None, "error", platform_error=True, error_type="Runtime.ExitError"
    )
    assert fmt.report(RID, crashed).endswith(
        "Max Memory Used: 10 MB\tStatus: error\tError Type: Runtime.ExitError"
    )
    assert fmt.end(RID, status="success", duration_ms=1, produced_bytes=1) == f"END RequestId: {RID}"
