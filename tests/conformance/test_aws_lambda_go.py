"""The real Go runtime client, github.com/aws/aws-lambda-go, against coldlab's platform and Runtime API:
replies, ctx.Deadline(), every lambdacontext field, client context and Cognito identity, returned errors and
a handler that gives up before its deadline. Each case runs for the default build and a -tags lambda.norpc
build (both made once per test run)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from support.lambda_go import (
    HELLO,
    MODES,
    GoFunction,
    build,
    invoke_all,
    platform_request_ids,
    process_environ,
    reply,
    tapped,
    tapped_headers,
)
from support.runtime_scripts import GoBuilder, run

pytestmark = pytest.mark.go

MEMORY_MB = 1024  # not Lambda's default, so MemoryLimitInMB shows it came from the configuration
NAME = "hello-alg"
LOG_STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


@pytest.fixture(scope="module", params=MODES)
def hello(request: pytest.FixtureRequest, go_build: GoBuilder) -> GoFunction:
    return build(go_build, HELLO, request.param)


def test_struct_in_struct_out_cold_then_warm(hello: GoFunction) -> None:
    cold, warm = invoke_all(
        hello.code,
        [(b'{"name": "conformance"}', {}), (b"{}", {})],
        function_name=NAME,
        memory_mb=MEMORY_MB,
    )
    first, second = reply(cold), reply(warm)
    assert cold.ok and warm.ok
    assert cold.content_type == "application/json"
    assert first["message"] == "hello, conformance"
    assert second["message"] == "hello, world"
    assert (first["cold_start"], second["cold_start"]) == (True, False)  # the package-level flag survived
    assert first["pid"] == second["pid"]  # the same process served both
    assert first["rpc"] is hello.rpc  # the build the test meant to run
    assert (cold.cold, warm.cold) == (True, False)
    assert cold.init_duration_ms is not None and warm.init_duration_ms is None
    assert f"cold_start=true request_id={cold.request_id}" in cold.log_lines  # the handler's own line


def test_every_lambdacontext_field_matches_what_coldlab_set(hello: GoFunction) -> None:
    async def go() -> tuple[list[dict[str, object]], list[dict[str, str]], list[set[str]]]:
        config = FunctionConfig.create(hello.code, function_name=NAME, memory_mb=MEMORY_MB)
        echoes, environs, ids = [], [], []
        async with Environment(config) as env:
            for _ in range(2):
                result = await env.invoke(b"{}")
                assert result.ok, result.payload
                echoes.append(reply(result)["context"])
                assert env.pid is not None
                environs.append(process_environ(env.pid))  # read while the process is alive (frozen)
                by_line = platform_request_ids(result.log_lines)
                assert set(by_line) == {"START", "END", "REPORT"}
                ids.append({result.request_id, *by_line.values()})
        return echoes, environs, ids

    echoes, environs, ids = run(go())
    assert echoes[0]["aws_request_id"] != echoes[1]["aws_request_id"]
    for echo, environ, request_ids in zip(echoes, environs, ids, strict=True):
        assert request_ids == {echo["aws_request_id"]}  # one id: the reply's, START's, END's and REPORT's
        assert echo["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"
        assert echo["function_name"] == environ["AWS_LAMBDA_FUNCTION_NAME"] == NAME
        assert echo["memory_limit_in_mb"] == int(environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) == MEMORY_MB
        assert echo["function_version"] == environ["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
        assert echo["log_group_name"] == environ["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{NAME}"
        assert echo["log_stream_name"] == environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        assert LOG_STREAM.match(str(echo["log_stream_name"]))
    assert echoes[0]["log_stream_name"] == echoes[1]["log_stream_name"]  # one stream per environment


def test_ctx_deadline_and_headers_are_what_the_runtime_api_sent(hello: GoFunction, tmp_path: Path) -> None:
    """A tap in front of the Go binary logs the /next headers; aws-lambda-go must have read the same."""
    identity = {"cognitoIdentityId": "us-east-1:id-42", "cognitoIdentityPoolId": "us-east-1:pool-7"}
    context = {"client": {"installation_id": "inst-1"}, "custom": {"tenant": "t1"}, "env": {"os": "linux"}}
    extra = {"client_context": json.dumps(context), "cognito_identity": json.dumps(identity)}
    timeout_s = 7

    async def go() -> list[tuple[float, InvocationResult, float]]:
        code = tapped(hello, tmp_path / "tapped")
        config = FunctionConfig.create(code, function_name=NAME, memory_mb=MEMORY_MB, timeout_s=timeout_s)
        async with Environment(config) as env:
            return [(time.time(), await env.invoke(b"{}", **kwargs), time.time()) for kwargs in (extra, {})]

    timed = run(go())
    for before, result, after in timed:
        assert result.ok, result.payload
        (headers,) = tapped_headers(result.log_lines)
        echo = reply(result)["context"]
        assert echo["deadline_ms"] == int(headers["lambda-runtime-deadline-ms"])  # to the millisecond
        # Unix milliseconds, the function's timeout after the invoke began (not seconds, not a monotonic clock)
        assert int((before + timeout_s) * 1000) <= echo["deadline_ms"] <= (after + timeout_s) * 1000
        assert echo["aws_request_id"] == headers["lambda-runtime-aws-request-id"] == result.request_id
        assert echo["invoked_function_arn"] == headers["lambda-runtime-invoked-function-arn"]
        assert echo["trace_id"] == headers["lambda-runtime-trace-id"]  # copied to _X_AMZN_TRACE_ID
    results = [result for _, result, _ in timed]
    first, second = (tapped_headers(result.log_lines)[0] for result in results)
    # Lambda hands the runtime the client context decoded (JSON, not base64), and only when there is one.
    assert json.loads(first["lambda-runtime-client-context"]) == context
    assert json.loads(first["lambda-runtime-cognito-identity"]) == identity
    assert "lambda-runtime-client-context" not in second
    assert "lambda-runtime-cognito-identity" not in second


def test_client_context_and_cognito_identity_reach_lambdacontext(hello: GoFunction) -> None:
    client = {
        "installation_id": "inst-1",
        "app_title": "coldlab tests",
        "app_version_code": "42",
        "app_package_name": "dev.coldlab.tests",
    }
    context = {"client": client, "custom": {"tenant": "t1", "nested": {"a": 1}}, "env": {"locale": "en_GB"}}
    identity = {"cognitoIdentityId": "us-east-1:id-42", "cognitoIdentityPoolId": "us-east-1:pool-7"}
    extra = {"client_context": json.dumps(context), "cognito_identity": json.dumps(identity)}
    with_them, without = invoke_all(hello.code, [(b"{}", extra), (b"{}", {})], memory_mb=MEMORY_MB)
    echo = reply(with_them)["context"]
    assert echo["client_context"] == {
        "Client": client,
        "env": {"locale": "en_GB"},
        "custom": {"tenant": "t1", "nested": '{"a": 1}'},  # lambdacontext keeps non-string values as JSON
    }
    assert echo["identity"] == {
        "CognitoIdentityID": "us-east-1:id-42",
        "CognitoIdentityPoolID": "us-east-1:pool-7",
    }
    empty = reply(without)["context"]  # nothing leaks into the next invocation
    assert empty["client_context"]["custom"] is None
    assert empty["client_context"]["Client"]["installation_id"] == ""
    assert empty["identity"] == {"CognitoIdentityID": "", "CognitoIdentityPoolID": ""}


def test_returned_error_is_named_by_its_go_type_and_the_process_lives_on(hello: GoFunction) -> None:
    failed, after = invoke_all(
        hello.code, [(b'{"fail": true, "name": "bob"}', {}), (b"{}", {})], memory_mb=MEMORY_MB
    )
    error = reply(failed)
    assert failed.function_error == "Unhandled"
    assert failed.status == "error"
    assert error["errorType"] == "ValidationError" == failed.error_type
    assert error["errorMessage"] == 'invalid name: "bob" was refused on purpose'
    assert not any("Runtime exited" in line for line in failed.log_lines)
    assert after.ok and not after.cold
    assert reply(after)["cold_start"] is False  # the same process, still initialised


def test_handler_that_respects_ctx_gives_up_before_the_deadline(hello: GoFunction) -> None:
    """The handler stops 700 ms before ctx's deadline: if that deadline were later than coldlab's timeout,
    the kill would come first and the caller would see Sandbox.Timedout instead of the handler's error."""
    short, gave_up, after = invoke_all(
        hello.code,
        [(b'{"sleep_ms": 20}', {}), (b'{"sleep_ms": 60000, "reserve_ms": 700}', {}), (b"{}", {})],
        memory_mb=MEMORY_MB,
        timeout_s=2,
    )
    assert short.ok and reply(short)["slept_ms"] >= 20
    error = reply(gave_up)
    assert gave_up.status == "error"  # not "timeout"
    assert error["errorType"] == "deadlineExceededError"  # context.DeadlineExceeded's Go type
    assert error["errorMessage"] == "context deadline exceeded"
    assert not after.cold and reply(after)["pid"] == reply(short)["pid"]
