"""Executing a plan against a fake Backend, and the chart and CSV made from the analysis."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from types import TracebackType
from typing import Any

from coldlab.tune.analysis import analyse
from coldlab.tune.backends import Progress, Sample, SizeWork
from coldlab.tune.chart import write_chart
from coldlab.tune.costs import PricingCosts
from coldlab.tune.plan import Target, build_plan
from coldlab.tune.report import csv_rows, document, write_csv
from coldlab.tune.run import Observer, execute


class FakeBackend:
    """A CPU-bound function (10 ms at one vCPU, longer below 1769 MB), on a host that has no CPU quota."""

    name = "local"

    def __init__(self) -> None:
        self.entered = self.exited = False
        self.work: list[SizeWork] = []

    async def __aenter__(self) -> FakeBackend:
        self.entered = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.exited = True

    def fidelity(self, memory_mb: int) -> dict[str, Any]:
        return {"cpu": "not-limited (fake host)", "notes": []}

    async def measure(self, work: SizeWork, progress: Progress) -> list[Sample]:
        self.work.append(work)
        duration = max(1769 / work.memory_mb, 1.0) * 10
        samples = [Sample(work.memory_mb, True, "success", duration, int(duration) + 31, init_duration_ms=30.0)]
        samples += [Sample(work.memory_mb, False, "success", duration, int(duration) + 1, event_index=i)
                    for i in range(len(work.events))]
        for sample in samples:
            progress(sample)
        return samples


class Recorder(Observer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def size_started(self, memory_mb: int, total: int) -> None:
        self.calls.append(("start", memory_mb, total))

    def sample(self, sample: Sample) -> None:
        self.calls.append(("sample", sample.memory_mb, int(sample.cold)))

    def size_finished(self, memory_mb: int) -> None:
        self.calls.append(("end", memory_mb, 0))


def run_fake(tmp_path: Path) -> tuple[Any, Any, FakeBackend, Recorder]:
    plan = build_plan(Target("local", code=tmp_path), memory="128,512,1769,3008", invocations=4,
                      arch="both", strategy="speed")
    backend, recorder = FakeBackend(), Recorder()
    execution = asyncio.run(execute(plan, backend, recorder))
    analysis = analyse(list(execution.samples), PricingCosts(), archs=execution.archs, strategy="speed",
                       memory_sizes=plan.memory_sizes, notes=execution.notes)
    return execution, analysis, backend, recorder


def test_execute_runs_each_size_in_order_and_reports_progress(tmp_path: Path) -> None:
    execution, analysis, backend, recorder = run_fake(tmp_path)
    assert backend.entered and backend.exited
    assert [w.memory_mb for w in backend.work] == [128, 512, 1769, 3008]
    assert all(len(w.events) == 4 and w.cold == 1 for w in backend.work)
    assert recorder.calls[0] == ("start", 128, 5)
    assert recorder.calls[1:6] == [("sample", 128, 1)] + [("sample", 128, 0)] * 4
    assert recorder.calls[6] == ("end", 128, 0)
    assert len(execution.samples) == 20
    # Degradation is said, never silent: no CPU quota, and arm64 priced from x86_64 durations.
    assert any("CPU quota not in force (not-limited (fake host))" in n for n in execution.notes)
    assert any("arm64 costs assume the same durations" in n for n in execution.notes)
    assert analysis.archs[0].picks["speed"] == 1769  # 3008 is no faster: the cheaper wins the tie


def test_document_csv_and_chart(tmp_path: Path) -> None:
    execution, analysis, _backend, _recorder = run_fake(tmp_path)
    doc = document(execution, analysis, PricingCosts().describe())
    assert doc["schema"] == "coldlab.tune/1"
    assert doc["recommendation"]["x86_64"].startswith("1769 MB: ")
    assert doc["prices"]["date"]
    assert len(csv_rows(analysis)) == 8
    out = tmp_path / "sizes.csv"
    write_csv(analysis, out)
    rows = list(csv.DictReader(out.open()))
    assert [r["recommended"] for r in rows[:4]] == ["false", "false", "true", "false"]
    svg = write_chart(analysis, tmp_path / "chart.svg").read_text()
    for label in ("x86_64: Pareto front", "arm64: Pareto front", "x86_64: knee", "arm64: speed pick (1769 MB)",
                  "cost per 1M invocations", "3008 MB"):
        assert label in svg, label
    png = write_chart(analysis, tmp_path / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_cold_invocations_get_the_users_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"name": "cold"}')
    plan = build_plan(Target("local", code=tmp_path), memory="128", invocations=1, cold=2, event=str(event))
    backend = FakeBackend()
    asyncio.run(execute(plan, backend))
    work = backend.work[0]
    assert work.events == (b'{"name": "cold"}',) and work.cold == 2
    assert work.event(0) == work.event(5) == b'{"name": "cold"}'
    cycling = SizeWork(128, (b"a", b"b"), cold=1, parallel=1, timeout_s=3)
    assert [cycling.event(i) for i in range(3)] == [b"a", b"b", b"a"]
