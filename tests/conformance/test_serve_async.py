"""Event invokes against a real `coldlab serve`, through boto3 and the AWS CLI: the event invoke config
operations, Lambda's retry policy (scaled by --retry-delay-scale), maximum age, reserved concurrency 0,
destination records (their shape, a JSON Lines file, a directory), an unwritable destination, and 413."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.runtime_scripts import GoBuilder
from support.serve import ServeProcess, aws_env, code_dir, lambda_client, zip_bootstrap

pytestmark = pytest.mark.go

SCALE = 0.01  # a minute is 0.6 s


@pytest.fixture(scope="module")
def server(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    code = tmp_path_factory.mktemp("code")
    paths = [str(code_dir(go_build("hello-go"), code / name)) for name in ("hello", "busy", "zero")]
    state = tmp_path_factory.mktemp("state")
    args = [*paths, "--timeout", "10", "--retry-delay-scale", str(SCALE), "--state-dir", str(state)]
    with ServeProcess(*args, cwd=tmp_path_factory.mktemp("serve")) as serve:
        yield serve


@pytest.fixture(scope="module")
def zipped(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return zip_bootstrap(go_build("hello-go"), tmp_path_factory.mktemp("zip") / "hello.zip")


@pytest.fixture(scope="module")
def client(server: ServeProcess) -> Any:
    return lambda_client(server.url)


def counts(server: ServeProcess, name: str) -> dict[str, int]:
    return dict(server.function(name)["async"]["counts"])


def one_record(server: ServeProcess, directory: Path) -> dict[str, Any]:
    files = server.wait_for(lambda: sorted(directory.glob("*.json")), f"a record in {directory}")
    assert len(files) == 1
    record: dict[str, Any] = json.loads(files[0].read_text())
    return record


def aws(server: ServeProcess, tmp: Path, *args: str) -> tuple[int, Any, str]:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "aws"),
            "lambda",
            *args,
            "--endpoint-url",
            server.url,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **aws_env(tmp)},
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr


def test_event_invoke_config_operations_with_the_aws_cli(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    failures = tmp_path / "failures"
    code, put, err = aws(
        server, tmp_path, "put-function-event-invoke-config", "--function-name", "hello",
        "--maximum-retry-attempts", "1", "--maximum-event-age-in-seconds", "120",
        "--destination-config", json.dumps({"OnFailure": {"Destination": f"file://{failures}/"}}),
    )  # fmt: skip
    assert code == 0, err
    assert put["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST"
    assert isinstance(put["LastModified"], float | int)
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (1, 120)
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": f"file://{failures}/"}}
    code, got, err = aws(server, tmp_path, "get-function-event-invoke-config", "--function-name", "hello")
    assert code == 0 and got == put, err
    code, updated, err = aws(
        server, tmp_path, "update-function-event-invoke-config", "--function-name", "hello",
        "--maximum-retry-attempts", "0",
    )  # fmt: skip
    assert code == 0, err
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 120)  # merged
    assert updated["DestinationConfig"]["OnFailure"] == {"Destination": f"file://{failures}/"}
    code, _, err = aws(server, tmp_path, "delete-function-event-invoke-config", "--function-name", "hello")
    assert code == 0, err
    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.get_function_event_invoke_config(FunctionName="hello")
    assert missing.value.response["Error"]["Message"] == (
        "The function arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST doesn't have an "
        "EventInvokeConfig"
    )


def test_bad_event_invoke_configs_are_400s(client: Any) -> None:
    cases = [
        ({"MaximumRetryAttempts": 3}, "Value '3' at 'maximumRetryAttempts' failed to satisfy constraint"),
        ({"MaximumEventAgeInSeconds": 21601}, "Member must have value less than or equal to 21600"),
        (
            {"DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:q"}}},
            "coldlab serve writes destination records to files",
        ),
    ]
    for members, message in cases:
        with pytest.raises(ClientError) as refused:
            client.put_function_event_invoke_config(FunctionName="hello", **members)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert message in refused.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_function_event_invoke_config(FunctionName="nope", MaximumRetryAttempts=1)
    listed = client.list_function_event_invoke_configs(FunctionName="hello")
    assert listed["FunctionEventInvokeConfigs"] == []


def test_function_errors_are_retried_twice_then_recorded(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    client.put_function_event_invoke_config(
        FunctionName="hello", DestinationConfig={"OnFailure": {"Destination": f"file://{tmp_path}/"}}
    )  # the defaults: 2 retries, 6 h
    before = counts(server, "hello")
    accepted = client.invoke(
        FunctionName="hello", InvocationType="Event", Payload=b'{"fail": true, "name": "r"}'
    )
    assert accepted["StatusCode"] == 202
    request_id = accepted["ResponseMetadata"]["RequestId"]
    record = one_record(server, tmp_path)
    assert set(record) == {
        "version", "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload",
    }  # fmt: skip
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"fail": True, "name": "r"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == 'failing on purpose for "r"'
    after = counts(server, "hello")
    assert after["retries"] - before["retries"] == 2
    assert after["invokes"] - before["invokes"] == 3
    assert after["to_destination"] - before["to_destination"] == 1
    assert server.function("hello")["async"]["queued"] == 0


def test_maximum_retry_attempts_zero_is_one_attempt(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    client.put_function_event_invoke_config(
        FunctionName="hello",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"file://{tmp_path}/"}},
    )
    client.invoke(FunctionName="hello", InvocationType="Event", Payload=b'{"fail": true}')
    record = one_record(server, tmp_path)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_a_success_is_appended_to_a_json_lines_destination(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    successes = tmp_path / "ok" / "successes.jsonl"
    client.put_function_event_invoke_config(
        FunctionName="hello", DestinationConfig={"OnSuccess": {"Destination": str(successes)}}
    )
    ids = [
        client.invoke(FunctionName="hello", InvocationType="Event", Payload=json.dumps({"name": n}).encode())[
            "ResponseMetadata"
        ]["RequestId"]
        for n in ("a", "b")
    ]
    server.wait_for(lambda: successes.exists() and len(successes.read_text().splitlines()) == 2, "2 lines")
    lines = [json.loads(line) for line in successes.read_text().splitlines()]
    assert sorted(line["requestContext"]["requestId"] for line in lines) == sorted(ids)
    for line in lines:
        assert line["requestContext"]["condition"] == "Success"
        assert line["requestContext"]["approximateInvokeCount"] == 1
        assert line["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
        assert line["responsePayload"]["message"] == f"hello, {line['requestPayload']['name']}"
        assert (
            line["responsePayload"]["request_id"] == line["requestContext"]["requestId"]
        )  # one id throughout


def test_throttled_events_back_off_until_their_maximum_age(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    client.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=1)
    client.put_function_event_invoke_config(
        FunctionName="busy",
        MaximumEventAgeInSeconds=60,  # 0.6 s at this scale
        DestinationConfig={"OnFailure": {"Destination": f"file://{tmp_path}/"}},
    )
    holder = threading.Thread(
        target=lambda: client.invoke(FunctionName="busy", Payload=b'{"sleep_ms": 1500}'), daemon=True
    )
    holder.start()
    try:
        server.wait_for(lambda: server.function("busy")["concurrency"] == 1, "the reserved slot to be taken")
        client.invoke(FunctionName="busy", InvocationType="Event", Payload=b'{"name": "late"}')
        record = one_record(server, tmp_path)
    finally:
        holder.join(30)
        client.delete_function_concurrency(FunctionName="busy")
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0  # it never ran
    assert record["responseContext"]["statusCode"] == 429
    assert "functionError" not in record["responseContext"]
    after = counts(server, "busy")
    # Backoff from 10 ms doubling (scaled): a handful of attempts in 0.6 s, not a busy loop.
    assert 2 <= after["throttled"] <= 8
    assert after["expired"] == 1


def test_reserved_concurrency_zero_goes_straight_to_the_failure_destination(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    client.put_function_concurrency(FunctionName="zero", ReservedConcurrentExecutions=0)
    client.put_function_event_invoke_config(
        FunctionName="zero", DestinationConfig={"OnFailure": {"Destination": f"file://{tmp_path}/"}}
    )
    client.invoke(FunctionName="zero", InvocationType="Event", Payload=b"{}")
    record = one_record(server, tmp_path)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert counts(server, "zero")["invokes"] == 0
    assert server.function("zero")["counts"]["invokes"] == 0  # the pool was never asked


def test_an_unwritable_destination_keeps_the_record_queued(
    server: ServeProcess, client: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the destination's parent directory should be\n")
    destination = blocker / "records"
    client.put_function_event_invoke_config(
        FunctionName="hello",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"file://{destination}/"}},
    )
    request_id = client.invoke(FunctionName="hello", InvocationType="Event", Payload=b'{"fail": true}')[
        "ResponseMetadata"
    ]["RequestId"]
    problems = server.wait_for(lambda: server.status()["async"]["destination_problems"], "the problem shown")
    assert problems[0]["function"] == "hello"
    assert problems[0]["destination"] == f"file://{destination}/"
    assert "Not a directory" in problems[0]["error"]
    assert server.function("hello")["async"]["held_for_destination"] == 1
    assert any("cannot write to destination" in line and "stay in the queue" in line for line in server.lines)
    blocker.unlink()  # fixed: the kept record is written on its next try
    record = one_record(server, destination)
    assert record["requestContext"]["requestId"] == request_id
    server.wait_for(lambda: not server.status()["async"]["destination_problems"], "the problem to clear")
    assert server.function("hello")["async"]["held_for_destination"] == 0


def test_event_payloads_over_1_mb_are_413(server: ServeProcess, client: Any) -> None:
    before = counts(server, "hello")["accepted"]
    limit = 1024 * 1024
    over = json.dumps({"pad": "x" * (limit - 10)}).encode()  # 1 byte over
    assert len(over) == limit + 1
    with pytest.raises(ClientError) as refused:
        client.invoke(FunctionName="hello", InvocationType="Event", Payload=over)
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert response["Error"]["Message"] == (
        f"{limit + 1} byte payload is too large for the Event invocation type (limit {limit} bytes)"
    )
    assert counts(server, "hello")["accepted"] == before  # nothing was queued
    exact = over[:-3] + b'"}'  # 1 MB exactly is accepted
    assert len(exact) == limit
    assert client.invoke(FunctionName="hello", InvocationType="Event", Payload=exact)["StatusCode"] == 202


def test_deleting_a_function_drops_its_queued_events(
    server: ServeProcess, client: Any, zipped: bytes
) -> None:
    client.create_function(
        FunctionName="gone", Runtime="provided.al2023", Role="arn:aws:iam::123456789012:role/t",
        Handler="bootstrap", Code={"ZipFile": zipped}, Timeout=10,
    )  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName="gone")
    client.put_function_concurrency(FunctionName="gone", ReservedConcurrentExecutions=1)
    holder = threading.Thread(
        target=lambda: client.invoke(FunctionName="gone", Payload=b'{"sleep_ms": 1000}'), daemon=True
    )
    holder.start()
    server.wait_for(lambda: server.function("gone")["concurrency"] == 1, "the reserved slot to be taken")
    client.invoke(FunctionName="gone", InvocationType="Event", Payload=b"{}")
    server.wait_for(lambda: server.function("gone")["async"]["counts"]["throttled"] >= 1, "a throttle")
    before = server.status()["async"]["counts"].get("dropped", 0)
    client.delete_function(FunctionName="gone")
    holder.join(30)
    assert "coldlab serve: deleted gone: 1 queued Event invokes dropped with it" in server.lines
    status = server.status()["async"]
    assert status["counts"]["dropped"] == before + 1
    assert status["queued"] == 0
    assert not [line for line in server.lines if "Traceback" in line]
