"""Serve's EMF totals per function (metrics summed across invocations, invalid lines counted, the last one
kept) and the control plane's `Layers` member (local paths taken, layer version ARNs refused as AWS's
InvalidParameterValueException), and a set of layers opened once for every environment using it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from coldlab.errors import InvalidParameterValue
from coldlab.platform.emf import scan_emf
from coldlab.platform.emf_totals import EmfTotals
from coldlab.platform.served_layers import LayerStore, requested_layers


def emf_line(**metrics: float) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": 1700000000000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "ns",
                        "Dimensions": [["service"], []],  # two dimension sets: the values count once
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
                    }
                ],
            },
            "service": "fn",
            **metrics,
        }
    )


BAD = '{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"ns","Metrics":[{"Name":"X","Unit":"Parsecs"}]}]},"X":1}'


def test_emf_totals_sum_each_metric_and_count_invalid_lines() -> None:
    totals = EmfTotals()
    totals.add("fn", scan_emf(emf_line(ColdStart=1, Invocations=1)))
    totals.add("fn", scan_emf(emf_line(ColdStart=0, Invocations=1)) + scan_emf(BAD))
    totals.add("fn", [])
    totals.add("other", [])  # no EMF: nothing kept for it
    described = totals.describe("fn")
    assert described["events"] == 2 and described["invalid"] == 1
    assert described["last_invalid"]["error"] == "EMFValidationErrors"
    assert "Parsecs" in described["last_invalid"]["message"]
    assert described["metrics"] == [
        {"namespace": "ns", "name": "ColdStart", "unit": "Count", "count": 2, "sum": 1.0, "min": 0.0, "max": 1.0},
        {"namespace": "ns", "name": "Invocations", "unit": "Count", "count": 2, "sum": 2.0, "min": 1.0, "max": 1.0},
    ]  # fmt: skip
    assert totals.describe("other") == {"events": 0, "invalid": 0, "last_invalid": None, "metrics": []}
    totals.forget("fn")
    assert totals.describe("fn")["events"] == 0


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (["arn:aws:lambda:us-east-1:123456789012:layer:tools:3"], "has no layer versions to fetch"),
        (["relative/dir"], "neither a layer version ARN nor an absolute local path"),
        ("arn:aws:lambda:us-east-1:123456789012:layer:tools:3", "must be a list of strings"),
        ([f"/l{i}" for i in range(6)], "Cannot reference more than 5 layers"),
    ],
)
def test_layers_that_are_not_local_paths_are_refused(layers: object, message: str) -> None:
    with pytest.raises(InvalidParameterValue) as refused:
        requested_layers({"Layers": layers})
    assert message in refused.value.message
    assert refused.value.code == "InvalidParameterValueException" and refused.value.status == 400


def test_local_layers_are_opened_once_and_removed_at_cleanup(tmp_path: Path) -> None:
    one, archive = tmp_path / "one", tmp_path / "two.zip"
    one.mkdir()
    (one / "a.txt").write_text("a\n")
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("b.txt", "b\n")
    store = LayerStore()
    assert store.load([]) == ()
    assert store.load([one]) == (one.resolve(),)  # one directory: used in place
    (merged,) = store.load([one, archive])
    assert store.load([one, archive]) == (merged,)  # the same set: the same directory, not a new copy
    assert (merged / "a.txt").read_text() == "a\n" and (merged / "b.txt").read_text() == "b\n"
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        store.load_requested({"Layers": [str(tmp_path / "missing")]})
    store.cleanup()
    assert not merged.exists() and one.exists()  # coldlab's copy removed, the user's directory kept
