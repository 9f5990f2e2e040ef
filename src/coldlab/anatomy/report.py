"""The anatomy as one JSON document (schema `coldlab.anatomy/1`), and the cold-start budget check."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from coldlab.anatomy import SCHEMA
from coldlab.anatomy.analyze import Result
from coldlab.anatomy.build import Band, Totals, _round


def _band(band: Band | None) -> dict[str, float | None] | None:
    return None if band is None else band.as_dict()


def totals_json(totals: Totals) -> dict[str, Any]:
    return {
        "init_duration_ms": {
            "measured_here": _band(totals.init_measured),
            "lambda_modelled": _band(totals.init_lambda),
        },
        "first_duration_ms": _band(totals.first_duration),
        "warm_median_ms": _round(totals.warm_median_ms),
        "billed_cold_ms": totals.billed_cold_ms,
        "cold_latency_ms": _band(totals.cold_latency),
    }


def budget_exceeded(result: Result, max_cold_start_ms: float | None) -> bool:
    """True when the client-seen cold latency (p50) is above the budget (an init failure always is)."""
    if max_cold_start_ms is None:
        return False
    latency = result.anatomy.totals.cold_latency
    return latency is None or latency.p50_ms > max_cold_start_ms


def document(
    result: Result, *, max_cold_start_ms: float | None = None, aws: dict[str, Any] | None = None
) -> dict[str, Any]:
    spec, anatomy, measured, report = result.spec, result.anatomy, result.measured, result.report
    failure = anatomy.failure
    return {
        "schema": SCHEMA,
        "function": {
            "path": str(spec.path),
            "memory_mb": spec.memory_mb,
            "architecture": result.architecture,
            "runs": spec.runs,
            "runs_done": len(measured.runs),
            "warm_per_run": spec.warm,
        },
        "binary": {
            "go": report is not None,
            "why_not_go": anatomy.go_reason or None,
            "go_version": report.facts.go_version if report else None,
            "goarch": report.facts.goarch if report else None,
            "size_bytes": report.file_size if report else None,
            "zipped_bytes": measured.zipped_bytes,
        },
        "fidelity": {**measured.fidelity, "notes": [*measured.fidelity.get("notes", []), *anatomy.notes]},  # type: ignore[misc]
        "phases": [p.as_dict() for p in anatomy.phases],
        "totals": totals_json(anatomy.totals),
        "init_trace": {
            "modules": [asdict(m) for m in anatomy.modules],
            "packages": [asdict(p) for p in anatomy.packages],
        },
        "network": {
            "mechanism": measured.network_note,
            "traced": anatomy.network is not None,
            "calls": [asdict(c) | {"label": c.label()} for c in anatomy.network or ()],
        },
        "advice": [a.as_dict() for a in result.advice],
        "runs": [
            {
                "index": r.index,
                "ok": r.ok,
                "init_ms": _round(r.init_ms),
                "split": None if r.split is None else {k: _round(v) for k, v in asdict(r.split).items()},
                "first_ms": _round(r.first_ms),
                "warm_ms": [_round(w) for w in r.warm_ms],
                "unzip_ms": _round(r.unzip_ms),
                "page_in": {"ms": _round(r.page_in.ms), "cold": r.page_in.dropped},
                "max_memory_used_mb": r.max_memory_used_mb,
                "failure": r.failure,
            }
            for r in measured.runs
        ],
        "failure": None
        if failure is None
        else {
            "run": failure.index,
            "error_type": failure.failure,
            "init_ms": _round(failure.init_ms),
            "output": failure.failure_detail,
        },
        "budget": None
        if max_cold_start_ms is None
        else {"max_cold_start_ms": max_cold_start_ms, "exceeded": budget_exceeded(result, max_cold_start_ms)},
        "aws": aws,
    }
