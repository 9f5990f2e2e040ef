"""A LintReport as text for people and as the coldlab.lint/1 JSON document for machines."""

from __future__ import annotations

from collections import Counter
from typing import Any

from coldlab.lint.model import SEVERITIES, Finding, LintReport
from coldlab.lint.rules import RULES, lambda_effect

JSON_SCHEMA = "coldlab.lint/1"


def rule_document(rule_id: str) -> dict[str, str]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "severity": rule.severity,
        "title": rule.title,
        "lambda": lambda_effect(rule),
        "cloud_run": rule.cloud_run_effect,
        "fix": rule.fix,
        "replacement": rule.replacement,
        "seed": rule.seed,
    }


def _finding_document(finding: Finding) -> dict[str, Any]:
    rule = rule_document(finding.rule)
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "file": finding.pos.file,
        "line": finding.pos.line,
        "col": finding.pos.col,
        "message": finding.message,
        "call": finding.call,
        "via": list(finding.via),
        "lambda": rule["lambda"],
        "cloud_run": rule["cloud_run"],
        "fix": rule["fix"],
        "replacement": rule["replacement"],
        "suppressed": finding.suppressed,
    }


def summary(report: LintReport) -> dict[str, Any]:
    active = report.active()
    counts = Counter(f.severity for f in active)
    return {
        "packages": report.packages,
        "files": report.files,
        "findings": len(active),
        "by_severity": {severity: counts.get(severity, 0) for severity in SEVERITIES},
        "suppressed": len(report.findings) - len(active),
        "compile_errors": len(report.errors),
    }


def json_document(report: LintReport, severity: str) -> dict[str, Any]:
    """The coldlab.lint/1 document (additive changes only within /1)."""
    facts, memory = report.facts, report.memory
    return {
        "schema": JSON_SCHEMA,
        "module": {"path": facts.module_path, "dir": str(report.module_dir), "go_version": facts.go_version},
        "patterns": list(report.patterns),
        "severity_threshold": severity,
        "failed": bool(report.at_or_above(severity)),
        "memory": {
            "memory_mb": memory.memory_mb,
            "source": memory.source,
            "env_gomaxprocs": memory.env_gomaxprocs,
        },
        "facts": {
            "lambda_function": facts.lambda_function,
            "extension": facts.extension,
            "handlers": list(facts.handlers),
            "lambda_starts": [str(p) for p in facts.lambda_starts],
            "automaxprocs": [str(p) for p in facts.automaxprocs],
            "gomaxprocs_calls": [str(p) for p in facts.gomaxprocs_calls],
        },
        "summary": summary(report),
        "findings": [_finding_document(f) for f in report.findings],
        "compile_errors": [
            {
                "package": e.package,
                "kind": e.kind,
                "file": e.pos.file if e.pos else None,
                "line": e.pos.line if e.pos else None,
                "col": e.pos.col if e.pos else None,
                "message": e.message,
            }
            for e in report.errors
        ],
        "rules": {rule_id: rule_document(rule_id) for rule_id in RULES},
        "notes": list(report.notes),
    }


def render_text(report: LintReport, severity: str) -> str:
    """Each finding with file:line:col, its rule, what happens on Lambda (and Cloud Run), the fix and the
    seed's replacement; then a summary line. Findings below the threshold are listed too, marked so."""
    lines: list[str] = []
    for finding in report.active():
        rule = RULES[finding.rule]
        call = f" ({finding.call})" if finding.call and finding.call not in finding.message else ""
        lines.append(f"{finding.pos}: {finding.severity} {finding.rule}: {finding.message}{call}")
        if len(finding.via) > 1:
            lines.append(f"    via: {' -> '.join(finding.via)}")
        lines.append(f"    on Lambda: {lambda_effect(rule)}")
        if rule.cloud_run_effect:
            lines.append(f"    on Cloud Run: {rule.cloud_run_effect}")
        lines.append(f"    fix: {rule.fix}")
        if rule.replacement:
            lines.append(f"    seed's replacement: {rule.replacement}")
    for note in report.notes:
        lines.append(f"note: {note}")
    lines.append(_summary_line(report, severity))
    return "\n".join(lines)


def _summary_line(report: LintReport, severity: str) -> str:
    counts = summary(report)
    parts = [f"{n} {s}{'s' * (n != 1 and s != 'info')}" for s, n in counts["by_severity"].items() if n]
    found = f"{counts['findings']} finding{'s' * (counts['findings'] != 1)}"
    if parts:
        found += f" ({', '.join(parts)})"
    suppressed = f", {counts['suppressed']} suppressed" if counts["suppressed"] else ""
    failing = len(report.at_or_above(severity))
    verdict = f"; {failing} at or above {severity}" if failing else f"; none at or above {severity}"
    where = f"{report.packages} package{'s' * (report.packages != 1)}, {report.files} files"
    return f"coldlab lint: {found}{suppressed} in {where}{verdict}"
