"""The real AWS CLI (`awscli` from PyPI) against `coldlab serve --endpoint-url`, credentials and config in tmp."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.runtime_scripts import GoBuilder
from support.serve import ServeProcess, aws_env, code_dir, zip_bootstrap

pytestmark = pytest.mark.go
AWS = [str(Path(sys.executable).parent / "aws")]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("awscli")


@pytest.fixture(scope="module")
def server(go_build: GoBuilder, tmp: Path) -> Iterator[ServeProcess]:
    code = code_dir(go_build("hello-go"), tmp / "hello")
    with ServeProcess(str(code), cwd=tmp) as serve:
        yield serve


@pytest.fixture(scope="module")
def aws(server: ServeProcess, tmp: Path) -> Any:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), **aws_env(tmp)}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*AWS, "--endpoint-url", server.url, "--output", "json", "lambda", *args],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
            timeout=120,
        )
        if ok:
            assert done.returncode == 0, done.stderr
        return done

    return run


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def test_invoke_writes_the_payload_and_the_status(aws: Any, tmp: Path) -> None:
    out = tmp / "out.json"
    done = aws(
        "invoke",
        "--function-name",
        "hello",
        "--payload",
        '{"name": "cli"}',
        "--log-type",
        "Tail",
        str(out),
    )
    meta = as_json(done)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "LogResult" in meta
    assert json.loads(out.read_text())["message"] == "hello, cli"


def test_unknown_function_and_bad_payload(aws: Any, tmp: Path) -> None:
    missing = aws("invoke", "--function-name", "nope", str(tmp / "x.json"), ok=False)
    assert missing.returncode != 0
    assert "An error occurred (ResourceNotFoundException) when calling the Invoke operation" in missing.stderr
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope" in missing.stderr
    bad = aws(
        "invoke",
        "--function-name",
        "hello",
        "--payload",
        "nope",
        str(tmp / "x.json"),
        ok=False,
    )
    assert "(InvalidRequestContentException)" in bad.stderr


def test_configuration_update_and_waiter(aws: Any) -> None:
    config = as_json(aws("get-function-configuration", "--function-name", "hello"))
    assert (config["State"], config["LastUpdateStatus"], config["MemorySize"]) == (
        "Active",
        "Successful",
        128,
    )
    names = [f["FunctionName"] for f in as_json(aws("list-functions"))["Functions"]]
    assert "hello" in names
    updated = as_json(aws("update-function-configuration", "--function-name", "hello", "--timeout", "5"))
    assert updated["LastUpdateStatus"] == "InProgress"
    aws("wait", "function-updated", "--function-name", "hello")  # would hang 5 min without the state machine
    assert as_json(aws("get-function", "--function-name", "hello"))["Configuration"]["Timeout"] == 5


def test_create_publish_alias_and_provisioned(aws: Any, server: ServeProcess, tmp: Path) -> None:
    zipped = tmp / "fn.zip"
    zip_bootstrap(Path(server.args[-1]) / "bootstrap", zipped)
    created = as_json(
        aws(
            "create-function",
            "--function-name",
            "clifn",
            "--runtime",
            "provided.al2023",
            "--role",
            "arn:aws:iam::123456789012:role/x",
            "--handler",
            "bootstrap",
            "--zip-file",
            f"fileb://{zipped}",
        )
    )
    assert created["State"] == "Pending"
    aws("wait", "function-active", "--function-name", "clifn")
    assert as_json(aws("publish-version", "--function-name", "clifn"))["Version"] == "1"
    aws("create-alias", "--function-name", "clifn", "--name", "live", "--function-version", "1")
    assert as_json(aws("get-alias", "--function-name", "clifn", "--name", "live"))["FunctionVersion"] == "1"
    put = as_json(
        aws(
            "put-provisioned-concurrency-config",
            "--function-name",
            "clifn",
            "--qualifier",
            "live",
            "--provisioned-concurrent-executions",
            "1",
        )
    )
    assert put["Status"] == "IN_PROGRESS"

    server.wait_for(
        lambda: server.function("clifn")["provisioned"][0]["status"] == "READY", "READY"
    )  # polled cheaply; then the CLI reads it once
    got = as_json(
        aws("get-provisioned-concurrency-config", "--function-name", "clifn", "--qualifier", "live")
    )
    assert (got["Status"], got["AvailableProvisionedConcurrentExecutions"]) == ("READY", 1)
    missing = aws(
        "get-provisioned-concurrency-config", "--function-name", "clifn", "--qualifier", "1", ok=False
    )
    assert "(ProvisionedConcurrencyConfigNotFoundException)" in missing.stderr
    aws("delete-provisioned-concurrency-config", "--function-name", "clifn", "--qualifier", "live")
    aws("delete-function", "--function-name", "clifn")
    gone = aws("get-function", "--function-name", "clifn", ok=False)
    assert "(ResourceNotFoundException)" in gone.stderr


def test_reserved_concurrency_and_throttle_shape(aws: Any, tmp: Path) -> None:
    assert aws("get-function-concurrency", "--function-name", "hello").stdout.strip() in ("", "{}")  # unset
    put = aws("put-function-concurrency", "--function-name", "hello", "--reserved-concurrent-executions", "0")
    assert as_json(put) == {"ReservedConcurrentExecutions": 0}
    throttled = aws("invoke", "--function-name", "hello", str(tmp / "t.json"), ok=False)
    assert (
        "An error occurred (TooManyRequestsException) when calling the Invoke operation" in throttled.stderr
    )
    assert "Rate Exceeded." in throttled.stderr
    too_many = aws(
        "put-function-concurrency",
        "--function-name",
        "hello",
        "--reserved-concurrent-executions",
        "100000",
        ok=False,
    )
    assert "decreases account's UnreservedConcurrentExecution below its minimum value" in too_many.stderr
    aws("delete-function-concurrency", "--function-name", "hello")
    assert as_json(aws("invoke", "--function-name", "hello", str(tmp / "t.json")))["StatusCode"] == 200
