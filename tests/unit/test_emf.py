"""EMF lines: metrics extracted from valid documents, every §8.2 limit enforced, invalid ones reported."""

from __future__ import annotations

import json
from typing import Any

import pytest

from coldlab.platform.emf import PARSING, VALIDATION, scan_emf


def doc(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": 1574109732004,
            "CloudWatchMetrics": [
                {
                    "Namespace": "lambda-function-metrics",
                    "Dimensions": [["functionVersion"]],
                    "Metrics": [
                        {"Name": "ColdStart", "Unit": "Count"},
                        {"Name": "time", "Unit": "Milliseconds"},
                    ],
                }
            ],
        },
        "functionVersion": "$LATEST",
        "ColdStart": 1,
        "time": [100, 120.5],
    }
    document.update(overrides)
    return document


def directive(document: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = document["_aws"]["CloudWatchMetrics"][0]
    return value


def test_a_valid_line_carries_its_metrics() -> None:
    (found,) = scan_emf(json.dumps(doc()))
    assert found.valid
    as_dict = found.as_dict()
    assert as_dict["timestamp"] == 1574109732004
    (d,) = as_dict["directives"]
    assert d["namespace"] == "lambda-function-metrics"
    assert d["dimensions"] == [{"functionVersion": "$LATEST"}]
    assert d["metrics"][0] == {
        "name": "ColdStart",
        "unit": "Count",
        "storage_resolution": 60,
        "values": [1.0],
    }
    assert d["metrics"][1]["values"] == [100.0, 120.5]


def test_what_lambda_prepends_is_tolerated_and_ordinary_lines_are_not_emf() -> None:
    assert scan_emf("2024-01-01T00:00:00Z\treq\t" + json.dumps(doc()))[0].valid
    assert scan_emf("hello") == []
    assert scan_emf('{"_aws": {"Timestamp": 1}}') == []  # no CloudWatchMetrics: not EMF


def test_malformed_json_is_a_parsing_error() -> None:
    (found,) = scan_emf('{"_aws": {"CloudWatchMetrics": [}')
    assert found.error == PARSING and not found.valid
    assert found.as_dict()["line"].startswith('{"_aws"')


def _too_many_metrics(d: dict[str, Any]) -> None:
    directive(d)["Metrics"] = [{"Name": f"m{n}"} for n in range(101)]
    d.update({f"m{n}": 1 for n in range(101)})


def _two_resolutions(d: dict[str, Any]) -> None:
    directive(d)["Metrics"] = [
        {"Name": "time", "StorageResolution": 1},
        {"Name": "time", "StorageResolution": 60},
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda d: directive(d).update(Namespace=""), "Namespace"),
        (lambda d: directive(d).update(Namespace="n" * 256), "Namespace"),
        (_too_many_metrics, "limit is 100"),
        (lambda d: d.update(time=list(range(101))), "101 values"),
        (lambda d: d.update(time="fast"), "finite number"),
        (lambda d: d.update(time=float("inf")), "finite number"),
        (lambda d: d.pop("ColdStart"), "no member"),
        (lambda d: directive(d).update(Dimensions=[[f"d{n}" for n in range(31)]]), "31 keys"),
        (lambda d: d.update(functionVersion=3), "string member"),
        (lambda d: d.update(functionVersion=":x"), "not starting with ':'"),
        (lambda d: d.update(functionVersion="é"), "ASCII"),
        (lambda d: directive(d)["Metrics"][0].update(Unit="Parsecs"), "not a CloudWatch unit"),
        (lambda d: directive(d)["Metrics"][0].update(StorageResolution=5), "1 or 60"),
        (_two_resolutions, "two storage resolutions"),
        (lambda d: d.update(padding="x" * 1_048_576), "over 1048576 bytes"),
    ],
)
def test_every_limit_is_a_validation_error(change: Any, words: str) -> None:
    document = doc()
    change(document)
    (found,) = scan_emf(json.dumps(document))
    assert found.error == VALIDATION, found
    assert words in found.message
    assert found.directives == ()  # nothing is extracted from an invalid event
