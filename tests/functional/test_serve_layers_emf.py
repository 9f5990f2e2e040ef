"""EMF and layers in `coldlab serve`: the EMF lines a stdlib Go function prints (tests/fixtures/serve-emf:
the seed's ColdStart counter, and an invalid line on request) reach the invocation records (`coldlab records
--json`) and the status JSON's per-function totals, beside coldlab's own cold-start count; CreateFunction's
`Layers` takes a local layer path (its extension runs) and refuses a layer version ARN with AWS's
InvalidParameterValueException."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.extensions_go import EXTENSION, make_layer, running
from support.runtime_scripts import GoBuilder, gone
from support.serve import COLDLAB, ServeProcess, lambda_client, zip_bootstrap

pytestmark = pytest.mark.go
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "serve-emf"


def emf_code(go_build: GoBuilder) -> Path:
    return go_build(FIXTURE).parent


def invoke_frozen(server: ServeProcess, client: Any, name: str, event: dict[str, Any]) -> Any:
    """One invoke, then wait until the function's environments are frozen (the next one reuses one)."""
    answer = json.loads(
        client.invoke(FunctionName=name, Payload=json.dumps(event).encode())["Payload"].read()
    )
    server.wait_for(
        lambda: {env["state"] for env in server.function(name)["environments"]} == {"idle-frozen"},
        f"{name}'s environment to be frozen",
    )
    return answer


def test_emf_reaches_the_records_and_the_status_totals(go_build: GoBuilder, tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = (
        "--template",
        str(FIXTURE / "template.yaml"),
        "--parameter-overrides",
        f"EmfCode={emf_code(go_build)}",
    )
    with ServeProcess(*args, "--state-dir", str(state), cwd=tmp_path) as server:
        client = lambda_client(server.url)
        answers = [invoke_frozen(server, client, "metrics", event) for event in ({}, {}, {"bad": True})]
        assert answers == [{"cold": 1}, {"cold": 0}, {"cold": 0}]
        server.wait_for(lambda: server.status()["records"]["written"] == 3, "3 records written")
        function = server.function("metrics")
    assert function["counts"]["cold_starts"] == 1  # coldlab's truth, beside the function's own counter
    emf = function["emf"]
    assert emf["events"] == 3 and emf["invalid"] == 1
    assert (
        emf["last_invalid"]["error"] == "EMFValidationErrors" and "Parsecs" in emf["last_invalid"]["message"]
    )
    by_name = {metric["name"]: metric for metric in emf["metrics"]}
    assert by_name["ColdStart"] == {
        "namespace": "coldlab-test", "name": "ColdStart", "unit": "Count", "count": 3, "sum": 1.0, "min": 0.0,
        "max": 1.0,
    }  # fmt: skip
    assert by_name["Invocations"]["sum"] == 3.0

    done = subprocess.run(
        [*COLDLAB, "records", "--state-dir", str(state), "--json"], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["records"]
    assert [row["cold"] for row in rows] == [True, False, False]
    cold_starts = []
    for row in rows:
        valid = row["emf"][0]
        assert valid["valid"] is True
        (directive,) = valid["directives"]
        assert directive["dimensions"] == [{"service": "serve-emf"}]
        cold_starts.append({m["name"]: m["values"] for m in directive["metrics"]}["ColdStart"])
    assert cold_starts == [[1.0], [0.0], [0.0]]  # the function's counter agrees with coldlab's cold flag
    assert [len(row["emf"]) for row in rows] == [1, 1, 2]
    invalid = rows[2]["emf"][1]
    assert invalid["valid"] is False and invalid["error"] == "EMFValidationErrors"


def test_create_function_takes_a_local_layer_and_refuses_a_layer_arn(
    go_build: GoBuilder, tmp_path: Path
) -> None:
    layer = make_layer(go_build, tmp_path)
    zipped = zip_bootstrap(go_build("hello-go"), tmp_path / "code.zip")
    with ServeProcess(cwd=tmp_path) as server:
        client = lambda_client(server.url)
        create = {"Runtime": "provided.al2023", "Role": "arn:aws:iam::123456789012:role/r", "Handler": "bootstrap",
                  "Code": {"ZipFile": zipped}}  # fmt: skip
        arn = "arn:aws:lambda:us-east-1:123456789012:layer:tools:3"
        with pytest.raises(ClientError) as refused:
            client.create_function(FunctionName="with-arn", Layers=[arn], **create)
        error = refused.value.response["Error"]
        assert error["Code"] == "InvalidParameterValueException"
        assert arn in error["Message"] and "local paths" in error["Message"]
        client.create_function(FunctionName="with-layer", Layers=[str(layer)], **create)
        shown = client.get_function(FunctionName="with-layer")["Configuration"]["Layers"]
        files = [f for f in layer.rglob("*") if f.is_file()] if layer.is_dir() else [layer]
        size = sum(f.stat().st_size for f in files)
        assert shown == [{"Arn": str(layer), "CodeSize": size}]  # the layer as given stands for its ARN
        client.create_function(FunctionName="plain", **create)
        assert "Layers" not in client.get_function_configuration(FunctionName="plain")
        assert json.loads(client.invoke(FunctionName="with-layer", Payload=b"{}")["Payload"].read())[
            "message"
        ]
        server.wait_for(lambda: running(EXTENSION), "the layer's extension to run")
        with pytest.raises(ClientError) as again:
            client.update_function_configuration(FunctionName="with-layer", Layers=[arn])
        assert again.value.response["Error"]["Code"] == "InvalidParameterValueException"
        pids = [env["pid"] for env in server.function("with-layer")["environments"] if env["pid"]]
    lines = [line for line in server.lines if line.startswith("with-layer | ")]
    assert "with-layer | EXTENSION\tName: extension-go\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in lines
    assert any(line.startswith("with-layer | SHUTDOWN Reason: spindown\tBudget: 2000 ms") for line in lines)
    assert gone(pids) and running(EXTENSION) == []
