"""boto3 against a real `coldlab serve`: the Invoke API, the control plane, error and throttle shapes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.runtime_scripts import GoBuilder
from support.serve import ServeProcess, code_dir, lambda_client, zip_bootstrap

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def hello(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return code_dir(go_build("hello-go"), tmp_path_factory.mktemp("code") / "hello")


@pytest.fixture(scope="module")
def server(hello: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(str(hello), "--memory", "128", cwd=tmp_path_factory.mktemp("serve")) as serve:
        yield serve


@pytest.fixture(scope="module")
def client(server: ServeProcess) -> Any:
    return lambda_client(server.url)


@pytest.fixture(scope="module")
def zipped(hello: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return zip_bootstrap(hello / "bootstrap", tmp_path_factory.mktemp("zip") / "hello.zip")


def create(client: Any, name: str, zipped: bytes, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role="arn:aws:iam::123456789012:role/test",
        Handler="bootstrap",
        Code={"ZipFile": zipped},
        **extra,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)
    return answer


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_invoke_cold_then_warm_with_tail_and_executed_version(client: Any) -> None:
    first = client.invoke(FunctionName="hello", Payload=b'{"name": "boto3"}', LogType="Tail")
    assert first["StatusCode"] == 200
    assert first["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in first
    assert json.loads(first["Payload"].read())["message"] == "hello, boto3"
    tail = base64.b64decode(first["LogResult"]).decode()
    assert "START RequestId:" in tail and "REPORT RequestId:" in tail
    second = client.invoke(FunctionName="hello", Payload=b"{}", LogType="Tail")
    second_tail = base64.b64decode(second["LogResult"]).decode()
    assert json.loads(second["Payload"].read())["cold_start"] is False  # the same, reused environment
    assert "Init Duration" not in second_tail


def test_function_error_header_and_payload(client: Any) -> None:
    answer = client.invoke(FunctionName="hello", Payload=b'{"fail": true, "name": "x"}')
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorMessage"] == 'failing on purpose for "x"'


def test_names_full_and_partial_arns_and_qualifiers(client: Any) -> None:
    for name in (
        "arn:aws:lambda:us-east-1:123456789012:function:hello",
        "123456789012:function:hello",
        "hello:$LATEST",
    ):
        assert client.invoke(FunctionName=name, Payload=b"{}")["StatusCode"] == 200
    assert client.invoke(FunctionName="hello", Qualifier="$LATEST")["ExecutedVersion"] == "$LATEST"


def test_dry_run_and_event(client: Any, server: ServeProcess) -> None:
    before = server.function("hello")["counts"]["invokes"]
    assert client.invoke(FunctionName="hello", InvocationType="DryRun")["StatusCode"] == 204
    assert server.function("hello")["counts"]["invokes"] == before  # DryRun runs nothing
    accepted = client.invoke(FunctionName="hello", InvocationType="Event", Payload=b'{"name": "async"}')
    assert accepted["StatusCode"] == 202
    assert accepted["Payload"].read() == b""
    server.wait_for(lambda: server.function("hello")["counts"]["invokes"] > before, "the Event invoke to run")


def test_client_context_is_checked(client: Any) -> None:
    good = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert client.invoke(FunctionName="hello", ClientContext=good)["StatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="hello", ClientContext=base64.b64encode(b"not json").decode())
    assert error(exc)[:2] == (400, "InvalidRequestContentException")


def test_error_shapes(client: Any, server: ServeProcess) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.invoke(FunctionName="nope")
    assert error(missing) == (
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope",
    )
    assert missing.value.response["Type"] == "User"
    with pytest.raises(client.exceptions.ResourceNotFoundException) as qualifier:
        client.invoke(FunctionName="hello", Qualifier="7")
    assert error(qualifier)[2].endswith("function:hello:7")
    with pytest.raises(client.exceptions.InvalidRequestContentException) as not_json:
        client.invoke(FunctionName="hello", Payload=b"this is not json")
    assert error(not_json)[:2] == (400, "InvalidRequestContentException")
    before = server.function("hello")["counts"]
    with pytest.raises(ClientError) as too_large:
        client.invoke(FunctionName="hello", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert error(too_large) == (
        413,
        "RequestEntityTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )
    after = server.function("hello")["counts"]
    assert (after["invokes"], after["cold_starts"]) == (before["invokes"], before["cold_starts"])


def test_create_update_publish_alias_and_delete(client: Any, zipped: bytes, server: ServeProcess) -> None:
    created = create(client, "made", zipped, MemorySize=128, Environment={"Variables": {"A": "1"}})
    assert created["State"] == "Pending" and "LastUpdateStatus" not in created
    config = client.get_function_configuration(FunctionName="made")
    assert (config["State"], config["LastUpdateStatus"], config["Version"]) == (
        "Active",
        "Successful",
        "$LATEST",
    )
    assert config["Environment"] == {"Variables": {"A": "1"}}
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/made"}
    assert "made" in [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert client.get_function(FunctionName="made")["Code"]["RepositoryType"] == "S3"
    assert client.invoke(FunctionName="made")["StatusCode"] == 200
    with pytest.raises(client.exceptions.ResourceConflictException):
        create(client, "made", zipped)

    updated = client.update_function_configuration(FunctionName="made", MemorySize=256)
    assert updated["LastUpdateStatus"] == "InProgress"
    client.get_waiter("function_updated").wait(FunctionName="made")  # ends at its first poll
    answer = client.invoke(FunctionName="made", LogType="Tail")
    report = base64.b64decode(answer["LogResult"]).decode()
    assert "Memory Size: 256 MB" in report and "Init Duration" in report  # drained: a new environment
    server.wait_for(lambda: len(server.function("made")["environments"]) == 1, "the old environment to close")

    code = client.update_function_code(FunctionName="made", ZipFile=zipped)
    assert code["LastUpdateStatus"] == "InProgress"
    client.get_waiter("function_updated_v2").wait(FunctionName="made")

    version = client.publish_version(FunctionName="made")
    assert version["Version"] == "1" and version["FunctionArn"].endswith(":made:1")
    alias = client.create_alias(FunctionName="made", Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(":made:live")
    assert client.get_alias(FunctionName="made", Name="live")["FunctionVersion"] == "1"
    assert client.invoke(FunctionName="made", Qualifier="live")["ExecutedVersion"] == "1"
    assert client.invoke(FunctionName="made:1")["ExecutedVersion"] == "1"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_alias(FunctionName="made", Name="nope")

    client.delete_function(FunctionName="made")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="made")
    server.wait_for(lambda: "made" not in [f["name"] for f in server.status()["functions"]], "the delete")


def test_bad_control_plane_input(client: Any, zipped: bytes) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException) as memory:
        client.update_function_configuration(FunctionName="hello", MemorySize=20000)  # the model allows it
    assert "memory size 20000 MB is out of range" in error(memory)[2]
    with pytest.raises(client.exceptions.InvalidParameterValueException) as bad_zip:
        create(client, "broken", b"not a zip")
    assert "Could not unzip uploaded file" in error(bad_zip)[2]
    with pytest.raises(client.exceptions.InvalidParameterValueException) as go1x:
        client.create_function(
            FunctionName="old", Runtime="go1.x", Role="r", Handler="bootstrap", Code={"ZipFile": zipped}
        )
    assert "The runtime parameter of go1.x is no longer supported" in error(go1x)[2]


def test_a_stale_revision_id_is_a_precondition_failure(client: Any, zipped: bytes) -> None:
    create(client, "revised", zipped)
    read = client.get_function(FunctionName="revised")["Configuration"]["RevisionId"]
    updated = client.update_function_configuration(FunctionName="revised", Timeout=5, RevisionId=read)
    client.get_waiter("function_updated_v2").wait(FunctionName="revised")
    assert updated["RevisionId"] != read
    for call in (
        lambda: client.update_function_configuration(FunctionName="revised", Timeout=6, RevisionId=read),
        lambda: client.update_function_code(FunctionName="revised", ZipFile=zipped, RevisionId=read),
        lambda: client.publish_version(FunctionName="revised", RevisionId=read),
    ):
        with pytest.raises(client.exceptions.PreconditionFailedException) as stale:
            call()
        assert error(stale)[:2] == (412, "PreconditionFailedException")
        assert "does not match the latest Revision Id" in error(stale)[2]
    assert client.get_function(FunctionName="revised")["Configuration"]["Timeout"] == 5  # nothing changed
    current = client.get_function(FunctionName="revised")["Configuration"]["RevisionId"]
    assert client.publish_version(FunctionName="revised", RevisionId=current)["Version"] == "1"
    client.delete_function(FunctionName="revised")


def test_reserved_concurrency_two_of_five_simultaneous(client: Any, zipped: bytes) -> None:
    create(client, "reserved", zipped)
    assert client.get_function_concurrency(FunctionName="reserved") == {
        "ResponseMetadata": client.get_function_concurrency(FunctionName="reserved")["ResponseMetadata"]
    }
    assert (
        client.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=2)[
            "ReservedConcurrentExecutions"
        ]
        == 2
    )
    assert client.get_function_concurrency(FunctionName="reserved")["ReservedConcurrentExecutions"] == 2
    outcomes: list[Any] = []
    barrier = threading.Barrier(5)

    def call() -> None:
        barrier.wait()
        try:
            outcomes.append(
                client.invoke(FunctionName="reserved", Payload=b'{"sleep_ms": 500}')["StatusCode"]
            )
        except ClientError as exc:
            outcomes.append(exc.response)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    throttles = [o for o in outcomes if not isinstance(o, int)]
    assert len(throttles) == 3 and outcomes.count(200) == 2
    for response in throttles:
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert response["Error"]["Code"] == "TooManyRequestsException"
        assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert response["Error"]["Message"] == "Rate Exceeded."
    with pytest.raises(client.exceptions.InvalidParameterValueException) as qualified:
        client.put_function_concurrency(FunctionName="reserved:1", ReservedConcurrentExecutions=1)
    assert "Aliases and versions do not support this operation" in error(qualified)[2]
    client.delete_function_concurrency(FunctionName="reserved")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="reserved")
    client.delete_function(FunctionName="reserved")


def test_provisioned_concurrency_lifecycle(client: Any, zipped: bytes, server: ServeProcess) -> None:
    create(client, "pc", zipped)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as latest:
        client.put_provisioned_concurrency_config(
            FunctionName="pc", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert (
        error(latest)[2]
        == "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    client.publish_version(FunctionName="pc")
    client.create_alias(FunctionName="pc", Name="live", FunctionVersion="1")
    with pytest.raises(client.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        client.get_provisioned_concurrency_config(FunctionName="pc", Qualifier="live")
    put = client.put_provisioned_concurrency_config(
        FunctionName="pc", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (put["Status"], put["AllocatedProvisionedConcurrentExecutions"]) == ("IN_PROGRESS", 0)

    def ready() -> dict[str, Any] | None:
        got: dict[str, Any] = client.get_provisioned_concurrency_config(FunctionName="pc", Qualifier="live")
        return got if got["Status"] == "READY" else None

    got = server.wait_for(ready, "provisioned concurrency READY")
    assert got["AvailableProvisionedConcurrentExecutions"] == 1
    answer = client.invoke(FunctionName="pc", Qualifier="live", LogType="Tail")
    assert "Init Duration" in base64.b64decode(answer["LogResult"]).decode()  # the init ran ahead
    assert json.loads(answer["Payload"].read())["cold_start"] is True  # first invoke of that process
    function = server.function("pc")
    assert function["counts"]["cold_starts"] == 0
    assert [e["kind"] for e in function["environments"]] == ["provisioned"]
    client.delete_provisioned_concurrency_config(FunctionName="pc", Qualifier="live")
    server.wait_for(lambda: not server.function("pc")["environments"], "the provisioned environment to close")
    client.delete_function(FunctionName="pc")
