"""A LintReport as SARIF 2.1.0, in the shape GitHub code scanning uploads accept.

Paths are relative to the repository root when the module sits in a git work tree (code scanning resolves
them from there), else to the module; `%SRCROOT%` names that directory. Suppressed findings stay in the
log with an inSource suppression, as code scanning expects. Fingerprints leave the line out, so a finding
keeps its identity when code above it moves.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from coldlab import __version__
from coldlab.lint.model import Finding, LintReport
from coldlab.lint.rules import RULES, lambda_effect

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"info": "note", "warning": "warning", "error": "error"}


def source_root(module_dir: Path) -> Path:
    """The git work tree holding the module, else the module itself."""
    for candidate in (module_dir, *module_dir.parents):
        if (candidate / ".git").exists():
            return candidate
    return module_dir


def _rule(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    effect = lambda_effect(rule)
    parts = [f"On Lambda: {effect}"]
    if rule.cloud_run_effect:
        parts.append(f"On Cloud Run: {rule.cloud_run_effect}")
    parts.append(f"Fix: {rule.fix}")
    if rule.replacement:
        parts.append(f"The seed's replacement: {rule.replacement}.")
    text = "\n\n".join(parts)
    return {
        "id": rule.id,
        "name": "".join(word.capitalize() for word in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": effect or rule.title},
        "help": {"text": text, "markdown": text.replace("On Lambda:", "**On Lambda:**")
                 .replace("On Cloud Run:", "**On Cloud Run:**").replace("Fix:", "**Fix:**")},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"tags": ["serverless", "lambda", "go"], "precision": "high"},
    }  # fmt: skip


def _uri(file: str, module_dir: Path, root: Path) -> str:
    path = Path(file) if Path(file).is_absolute() else module_dir / file
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_uri()


def _result(finding: Finding, index: int, module_dir: Path, root: Path) -> dict[str, Any]:
    text = finding.message
    if finding.call and finding.call not in text:
        text += f" ({finding.call})"
    if len(finding.via) > 1:
        text += f"; via {' -> '.join(finding.via)}"
    uri = _uri(finding.pos.file, module_dir, root)
    region: dict[str, int] = {"startLine": max(finding.pos.line, 1)}
    if finding.pos.col > 0:
        region["startColumn"] = finding.pos.col
    identity = f"{finding.rule}\0{uri}\0{finding.message}\0{finding.call}"
    fingerprint = hashlib.sha256(identity.encode()).hexdigest()
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": _LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {"coldlabFinding/v1": fingerprint[:32]},
    }
    if finding.suppressed is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": finding.suppressed}]
    return result


def sarif_document(report: LintReport) -> dict[str, Any]:
    root = source_root(report.module_dir)
    rule_ids = list(RULES)
    results = [
        _result(f, rule_ids.index(f.rule), report.module_dir, root) for f in report.findings
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "coldlab lint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(rule_id) for rule_id in rule_ids],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "invocations": [{"executionSuccessful": True}],
                "results": results,
            }
        ],
    }
