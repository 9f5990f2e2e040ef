"""Outputs of a tuning run: the JSON document (schema coldlab.tune/1), CSV rows, and a rich table."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rich.table import Table

from coldlab.tune.analysis import Analysis, ArchResult
from coldlab.tune.run import Execution
from coldlab.tune.stats import SizeStats

SCHEMA = "coldlab.tune/1"
CSV_FIELDS = (
    "memory_mb", "arch", "invocations", "errors", "error_types",
    "p50_ms", "p90_ms", "p99_ms", "mean_ms", "trimmed_mean_ms", "billed_trimmed_mean_ms",
    "cold_invocations", "init_p50_ms", "init_mean_ms", "max_memory_used_mb",
    "cost_per_invocation_usd", "cost_per_million_usd", "pareto", "knee", "recommended",
)


def document(execution: Execution, analysis: Analysis, prices: dict[str, object]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "plan": execution.plan.as_dict(),
        "backend": execution.backend,
        "measured_arch": execution.measured_arch,
        "wall_s": round(execution.wall_s, 3),
        "fidelity": {str(m): f for m, f in execution.fidelity.items()},
        "prices": prices,
        "analysis": analysis.as_dict(),
        "recommendation": {a.arch: a.recommendation for a in analysis.archs},
        "samples": [s.as_dict() for s in execution.samples],
        "notes": list(dict.fromkeys((*execution.notes, *analysis.notes))),
    }


def _r(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_rows(analysis: Analysis) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for arch in analysis.archs:
        for stats in analysis.stats:
            cost = arch.cost_of(stats.memory_mb)
            warm, billed, init = stats.warm_duration, stats.warm_billed, stats.init_duration
            rows.append({
                "memory_mb": str(stats.memory_mb),
                "arch": arch.arch,
                "invocations": str(stats.invocations),
                "errors": str(stats.errors),
                "error_types": ";".join(f"{k}={v}" for k, v in stats.error_types.items()),
                "p50_ms": _r(warm.p50 if warm else None),
                "p90_ms": _r(warm.p90 if warm else None),
                "p99_ms": _r(warm.p99 if warm else None),
                "mean_ms": _r(warm.mean if warm else None),
                "trimmed_mean_ms": _r(warm.trimmed_mean if warm else None),
                "billed_trimmed_mean_ms": _r(billed.trimmed_mean if billed else None),
                "cold_invocations": str(stats.cold_count),
                "init_p50_ms": _r(init.p50 if init else None),
                "init_mean_ms": _r(init.mean if init else None),
                "max_memory_used_mb": str(stats.max_memory_used_mb),
                "cost_per_invocation_usd": "" if cost is None else f"{cost.per_invocation:.12g}",
                "cost_per_million_usd": "" if cost is None else f"{cost.per_million:.6f}",
                "pareto": str(stats.memory_mb in arch.pareto).lower(),
                "knee": str(stats.memory_mb == arch.knee).lower(),
                "recommended": str(stats.memory_mb == arch.recommended).lower(),
            })
    return rows


def write_csv(analysis: Analysis, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(analysis))
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _marks(memory_mb: int, arch: ArchResult) -> str:
    marks = []
    if memory_mb == arch.recommended:
        marks.append("[bold green]★ pick[/]")
    if memory_mb == arch.knee:
        marks.append("knee")
    if memory_mb in arch.pareto:
        marks.append("front")
    return " ".join(marks)


def _errors(stats: SizeStats) -> str:
    if not stats.errors:
        return "0"
    kinds = ", ".join(f"{k} x{v}" for k, v in stats.error_types.items())
    return f"[red]{stats.errors}/{stats.invocations}[/] {kinds}"


def table(analysis: Analysis) -> Table:
    """One row per memory size: warm latency percentiles, cold start, peak memory, errors, cost per arch,
    and the pick, knee and Pareto front marked."""
    out = Table(title=f"coldlab tune — strategy: {analysis.strategy}", title_justify="left")
    for name in ("MB", "p50 ms", "p90 ms", "p99 ms", "trimmed", "billed", "init ms", "max mem", "errors"):
        out.add_column(name, justify="right" if name != "errors" else "left", no_wrap=True)
    for arch in analysis.archs:
        out.add_column(f"$/1M {arch.arch}", justify="right", no_wrap=True)
    out.add_column(f"({analysis.archs[0].arch})" if analysis.archs else "", no_wrap=True)
    for stats in analysis.stats:
        warm, init = stats.warm_duration, stats.init_duration
        cells = [
            str(stats.memory_mb),
            _r(warm.p50 if warm else None, 2),
            _r(warm.p90 if warm else None, 2),
            _r(warm.p99 if warm else None, 2),
            _r(warm.trimmed_mean if warm else None, 2),
            _r(stats.warm_billed.trimmed_mean if stats.warm_billed else None, 1),
            _r(init.mean if init else None, 1),
            f"{stats.max_memory_used_mb} MB" if stats.max_memory_used_mb else "",
            _errors(stats),
        ]
        for arch in analysis.archs:
            cost = arch.cost_of(stats.memory_mb)
            cells.append("-" if cost is None else f"{cost.per_million:.4f}")
        cells.append(_marks(stats.memory_mb, analysis.archs[0]) if analysis.archs else "")
        out.add_row(*cells)
    return out
