"""The timeline behind the dashboard: a bounded ring buffer read with `since`, the last REPORT lines per
function, and the pool's census by state (a pure core: a scripted census, no processes)."""

from __future__ import annotations

import asyncio
import itertools

from coldlab.platform.timeline import REPORTS_KEPT, FunctionSample, Timeline, is_report


def counting_timeline(capacity: int) -> Timeline:
    invokes = itertools.count(1)
    ticks = itertools.count()
    return Timeline(
        lambda: {"f": FunctionSample(busy=1, invokes=next(invokes))},
        capacity=capacity,
        clock=lambda: 1000.0 + next(ticks),
    )


def test_the_buffer_keeps_the_last_samples_and_since_reads_what_came_after() -> None:
    timeline = counting_timeline(capacity=5)
    assert timeline.since(0) == []
    for _ in range(8):
        timeline.sample()
    assert timeline.last_seq == 8
    assert [s.seq for s in timeline.since(0)] == [4, 5, 6, 7, 8]  # the oldest three are gone
    assert [s.seq for s in timeline.since(6)] == [7, 8]
    assert timeline.since(8) == []
    assert timeline.since(99) == []  # a reader ahead of this timeline (a restarted server) gets nothing
    assert [s.functions["f"].invokes for s in timeline.since(2)] == [4, 5, 6, 7, 8]
    described = timeline.describe(6)
    assert described["last_seq"] == 8 and described["capacity"] == 5
    assert [s["seq"] for s in described["samples"]] == [7, 8]
    assert described["samples"][0]["functions"]["f"]["busy"] == 1
    assert "samples" not in timeline.describe()  # without `since` the status stays small


def test_report_lines_are_bounded_per_function_and_forgotten_with_it() -> None:
    timeline = counting_timeline(capacity=5)
    for i in range(REPORTS_KEPT + 3):
        timeline.report("f", f"REPORT RequestId: {i}")
    timeline.report("g", "REPORT RequestId: g")
    kept = timeline.reports("f")
    assert len(kept) == REPORTS_KEPT and kept[-1] == f"REPORT RequestId: {REPORTS_KEPT + 2}"
    timeline.forget("f")
    assert timeline.reports("f") == [] and timeline.reports("g") == ["REPORT RequestId: g"]


def test_is_report_knows_the_text_and_the_json_formats() -> None:
    assert is_report("REPORT RequestId: 1\tDuration: 1.00 ms")
    assert is_report('{"time":"t","type":"platform.report","record":{}}')
    assert not is_report("START RequestId: 1 Version: $LATEST")
    assert not is_report('{"msg": "REPORT of the day"}')


def test_started_it_samples_on_the_loop_until_stopped() -> None:
    async def run() -> tuple[int, int]:
        timeline = Timeline(dict, interval_s=0.01)
        timeline.start()
        timeline.start()  # idempotent: one sampler, not two
        first = timeline.last_seq
        while timeline.last_seq < 4:
            await asyncio.sleep(0.01)
        timeline.stop()
        stopped_at = timeline.last_seq
        await asyncio.sleep(0.05)
        return first, timeline.last_seq - stopped_at

    first, after_stop = asyncio.run(run())
    assert first == 1  # the first sample is taken at once
    assert after_stop == 0
