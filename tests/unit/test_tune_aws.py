"""AWS backend against botocore's Stubber: update → wait → invoke (LogType=Tail) → restore, also on errors."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from coldlab.errors import UsageError
from coldlab.tune.backends import Sample, SizeWork
from coldlab.tune.backends.aws import NONCE_VAR, AwsBackend, AwsError
from coldlab.tune.plan import Target, build_plan
from coldlab.tune.run import execute

FN = "my-fn"


def client() -> Any:
    return boto3.client("lambda", region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test")


def report(duration: float, billed: int, memory: int, init: float | None = None, extra: str = "") -> str:
    line = (f"REPORT RequestId: r1\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {memory} MB\tMax Memory Used: 30 MB\t")
    if init is not None:
        line += f"Init Duration: {init:.2f} ms\t"
    return f"START RequestId: r1 Version: $LATEST\nEND RequestId: r1\n{line}{extra}\n"


def invoke_response(log: str, function_error: str | None = None) -> dict[str, Any]:
    body = b'{"ok":true}'
    response: dict[str, Any] = {
        "StatusCode": 200,
        "LogResult": base64.b64encode(log.encode()).decode(),
        "Payload": StreamingBody(io.BytesIO(body), len(body)),
    }
    if function_error:
        response["FunctionError"] = function_error
    return response


def config(memory: int, status: str = "Successful", env: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "FunctionName": FN,
        "MemorySize": memory,
        "Architectures": ["arm64"],
        "LastUpdateStatus": status,
        "State": "Active",
        "Environment": {"Variables": env if env is not None else {"A": "1"}},
    }


def expect_update(stub: Stubber, **params: Any) -> None:
    stub.add_response("update_function_configuration", {"FunctionName": FN},
                      {"FunctionName": FN, **params})


def expect_wait(stub: Stubber, memory: int) -> None:
    stub.add_response("get_function_configuration", config(memory, "InProgress"), {"FunctionName": FN})
    stub.add_response("get_function_configuration", config(memory), {"FunctionName": FN})


def expect_invoke(stub: Stubber, log: str, function_error: str | None = None) -> None:
    stub.add_response(
        "invoke",
        invoke_response(log, function_error),
        {"FunctionName": FN, "InvocationType": "RequestResponse", "LogType": "Tail", "Payload": ANY},
    )


def backend(lambda_client: Any) -> AwsBackend:
    return AwsBackend(FN, lambda_client, poll_interval_s=0, sleep=lambda _s: None)


def test_tunes_each_size_and_restores_the_original_memory() -> None:
    lam = client()
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", config(256), {"FunctionName": FN})
        for memory in (128, 1024):
            expect_update(stub, MemorySize=memory)
            expect_wait(stub, memory)
            expect_invoke(stub, report(20.0, 71, memory, init=50.5))  # cold: billed includes init
            expect_invoke(stub, report(10.0, 10, memory))
            expect_invoke(stub, report(9.5, 10, memory).replace("Billed Duration: 10 ms\t",
                                                                "Billed Duration: 10 ms \t"))
        expect_update(stub, MemorySize=256)
        expect_wait(stub, 256)
        plan = build_plan(Target("aws", function_name=FN), memory="128,1024", invocations=2)
        seen: list[Sample] = []

        class Watch:
            def size_started(self, memory_mb: int, total: int) -> None:
                assert total == 3

            def sample(self, sample: Sample) -> None:
                seen.append(sample)

            def size_finished(self, memory_mb: int) -> None:
                pass

        aws = backend(lam)
        execution = asyncio.run(execute(plan, aws, Watch()))  # type: ignore[arg-type]
        stub.assert_no_pending_responses()
    assert aws.restored
    assert execution.measured_arch == "arm64"
    assert execution.archs == ("arm64",)  # --arch auto prices the function's own architecture
    assert len(execution.samples) == 6 == len(seen)
    cold = [s for s in execution.samples if s.cold]
    assert [(s.memory_mb, s.init_duration_ms, s.billed_duration_ms) for s in cold] == [
        (128, 50.5, 71), (1024, 50.5, 71)]
    assert all(s.ok for s in execution.samples)
    assert execution.fidelity[128]["cpu"] == "aws-lambda (real)"


def test_restores_when_an_invoke_fails() -> None:
    lam = client()
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", config(256), {"FunctionName": FN})
        expect_update(stub, MemorySize=512)
        expect_wait(stub, 512)
        stub.add_client_error("invoke", "ServiceException", "boom", 500)
        expect_update(stub, MemorySize=256)
        expect_wait(stub, 256)
        plan = build_plan(Target("aws", function_name=FN), memory="512,1024", invocations=2)
        aws = backend(lam)
        with pytest.raises(AwsError, match="ServiceException"):
            asyncio.run(execute(plan, aws))
        stub.assert_no_pending_responses()
    assert aws.restored


@pytest.mark.parametrize("interrupt", ["keyboard", "cancel"])
def test_restores_on_ctrl_c_and_on_cancellation(interrupt: str) -> None:
    lam = client()
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", config(256), {"FunctionName": FN})
        expect_update(stub, MemorySize=512)
        expect_wait(stub, 512)
        expect_invoke(stub, report(20.0, 71, 512, init=50.5))
        expect_update(stub, MemorySize=256)
        expect_wait(stub, 256)
        aws = backend(lam)
        work = SizeWork(512, (b"{}",) * 5, cold=1, parallel=1, timeout_s=3)

        def stop(_sample: Sample) -> None:
            if interrupt == "keyboard":  # Ctrl-C while the loop runs Python code
                raise KeyboardInterrupt
            task = asyncio.current_task()  # what asyncio.run does with SIGINT
            assert task is not None
            task.cancel()

        async def run() -> None:
            async with aws:
                await aws.measure(work, stop)

        with pytest.raises((KeyboardInterrupt, asyncio.CancelledError)):
            asyncio.run(run())
        stub.assert_no_pending_responses()
    assert aws.restored


def test_cold_forces_fresh_environments_and_restores_the_environment() -> None:
    lam = client()
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", config(256), {"FunctionName": FN})
        expect_update(stub, MemorySize=128)
        expect_wait(stub, 128)
        expect_invoke(stub, report(20.0, 71, 128, init=50.5))
        stub.add_response("update_function_configuration", {"FunctionName": FN},
                          {"FunctionName": FN, "Environment": {"Variables": {"A": "1", NONCE_VAR: ANY}}})
        expect_wait(stub, 128)
        expect_invoke(stub, report(21.0, 70, 128, init=48.0))
        expect_invoke(stub, report(10.0, 10, 128))
        expect_update(stub, MemorySize=256, Environment={"Variables": {"A": "1"}})
        expect_wait(stub, 256)
        plan = build_plan(Target("aws", function_name=FN), memory="128", invocations=1, cold=2)
        execution = asyncio.run(execute(plan, backend(lam)))
        stub.assert_no_pending_responses()
    assert [s.cold for s in execution.samples] == [True, True, False]


def test_function_errors_are_samples_not_exceptions() -> None:
    lam = client()
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", config(256), {"FunctionName": FN})
        expect_update(stub, MemorySize=128)
        expect_wait(stub, 128)
        expect_invoke(stub, report(3.0, 60, 128, init=55.0), function_error="Unhandled")
        expect_invoke(stub, report(3000.0, 3000, 128, extra="Status: timeout"), function_error="Unhandled")
        expect_update(stub, MemorySize=256)
        expect_wait(stub, 256)
        plan = build_plan(Target("aws", function_name=FN), memory="128", invocations=1)
        execution = asyncio.run(execute(plan, backend(lam)))
    assert [(s.status, s.error_type) for s in execution.samples] == [
        ("error", "Unhandled"), ("timeout", "Unhandled")]


def test_missing_function_and_failed_update_are_reported() -> None:
    lam = client()
    with Stubber(lam) as stub:
        stub.add_client_error("get_function_configuration", "ResourceNotFoundException", "Function not found")
        with pytest.raises(UsageError, match="ResourceNotFoundException"):
            asyncio.run(execute(build_plan(Target("aws", function_name=FN), memory="128", invocations=1),
                                backend(lam)))
    lam = client()
    with Stubber(lam) as stub:
        stub.add_response("get_function_configuration", config(256), {"FunctionName": FN})
        expect_update(stub, MemorySize=20000 // 2)
        failed = config(10000, "Failed")
        failed["LastUpdateStatusReason"] = "memory quota exceeded"
        stub.add_response("get_function_configuration", failed, {"FunctionName": FN})
        expect_update(stub, MemorySize=256)
        expect_wait(stub, 256)
        with pytest.raises(AwsError, match="memory quota exceeded"):
            asyncio.run(execute(build_plan(Target("aws", function_name=FN), memory="10000", invocations=1),
                                backend(lam)))
        stub.assert_no_pending_responses()
