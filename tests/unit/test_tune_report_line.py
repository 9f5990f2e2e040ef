"""REPORT parsing for the AWS backend: text (tabs or spaces, Init Duration anywhere) and JSON logs."""

from __future__ import annotations

import json

import pytest

from coldlab.tune.backends.report_line import parse_report

RID = "dbda340c-xmpl-4031-8810-11bb609b4c71"


@pytest.mark.parametrize(
    "line",
    [
        # Lambda's documented form (reference: lambda-contract), Init Duration last.
        f"REPORT RequestId: {RID}\tDuration: 38.66 ms\tBilled Duration: 39 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 54 MB\tInit Duration: 203.69 ms\t",
        # A stray space after Billed Duration, and spaces instead of tabs.
        f"REPORT RequestId: {RID}  Duration: 38.66 ms  Billed Duration: 39 ms \tMemory Size: 128 MB  "
        "Max Memory Used: 54 MB  Init Duration: 203.69 ms",
        # Init Duration before the other durations (as some emulators print it).
        f"REPORT RequestId: {RID}\tInit Duration: 203.69 ms\tDuration: 38.66 ms\tBilled Duration: 39 ms\t"
        "Memory Size: 128 MB\tMax Memory Used: 54 MB\t",
    ],
)
def test_text_report_forms(line: str) -> None:
    tail = f"START RequestId: {RID} Version: $LATEST\nsome output\nEND RequestId: {RID}\n{line}\n"
    report = parse_report(tail)
    assert report is not None
    assert report.request_id == RID
    assert report.duration_ms == 38.66
    assert report.billed_duration_ms == 39
    assert report.memory_size_mb == 128
    assert report.max_memory_used_mb == 54
    assert report.init_duration_ms == 203.69
    assert report.status is None


def test_warm_report_has_no_init_and_timeouts_carry_status() -> None:
    warm = parse_report(f"REPORT RequestId: {RID}\tDuration: 1.50 ms\tBilled Duration: 2 ms\t"
                        "Memory Size: 512 MB\tMax Memory Used: 20 MB\t")
    assert warm is not None and warm.init_duration_ms is None
    timeout = parse_report(f"REPORT RequestId: {RID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\t"
                           "Memory Size: 1024 MB\tMax Memory Used: 64 MB\tStatus: timeout")
    assert timeout is not None and timeout.status == "timeout"
    crash = parse_report(f"REPORT RequestId: {RID}\tDuration: 3.00 ms\tBilled Duration: 3 ms\t"
                         "Memory Size: 128 MB\tMax Memory Used: 9 MB\tStatus: error\tError Type: Runtime.ExitError")
    assert crash is not None and (crash.status, crash.error_type) == ("error", "Runtime.ExitError")


def test_json_platform_report() -> None:
    record = {
        "time": "2024-01-01T00:00:00.000Z",
        "type": "platform.report",
        "record": {
            "requestId": RID,
            "metrics": {"durationMs": 12.5, "billedDurationMs": 13, "memorySizeMB": 256,
                        "maxMemoryUsedMB": 30, "initDurationMs": 80.2},
            "status": "success",
        },
    }
    report = parse_report('{"type":"platform.start"}\n' + json.dumps(record))
    assert report is not None
    assert (report.duration_ms, report.billed_duration_ms, report.init_duration_ms) == (12.5, 13, 80.2)
    assert report.status is None


def test_no_report() -> None:
    assert parse_report("") is None
    assert parse_report("START RequestId: x\nEND RequestId: x\n") is None
    assert parse_report("REPORT RequestId: x\tMemory Size: 128 MB") is None
