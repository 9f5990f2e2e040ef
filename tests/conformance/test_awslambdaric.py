"""The real AWS runtime interface client for Python (awslambdaric) against coldlab's Runtime API."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from support.runtime_scripts import run, vendored_python_example


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vendored_python_example(tmp_path_factory.mktemp("ric") / "python-ric")


def invoke(example: Path, *events: tuple[bytes, dict[str, str]]) -> list[InvocationResult]:
    async def go() -> list[InvocationResult]:
        config = FunctionConfig.create(example, timeout_s=10)
        async with Environment(config) as env:
            return [await env.invoke(payload, **extra) for payload, extra in events]

    results: list[InvocationResult] = run(go())
    return results


def test_cold_then_warm_with_context(example: Path) -> None:
    context = json.dumps({"custom": {"tenant": "t1"}, "client": {}, "env": {}})
    identity = json.dumps({"cognitoIdentityId": "id-42", "cognitoIdentityPoolId": "pool"})
    cold, warm = invoke(
        example,
        (b'{"name": "ric"}', {"client_context": context, "cognito_identity": identity}),
        (b"{}", {}),
    )
    first = json.loads(cold.payload)
    assert first["message"] == "hello, ric"
    assert first["cold_start"] is True
    assert first["request_id"] == cold.request_id
    assert first["client_custom"] == {"tenant": "t1"}
    assert first["cognito_identity_id"] == "id-42"
    assert 8000 < first["remaining_ms"] <= 10000  # the deadline header is epoch milliseconds
    assert first["function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:coldlab-function"
    assert json.loads(warm.payload)["cold_start"] is False
    assert cold.init_duration_ms is not None
    assert warm.init_duration_ms is None
    assert f"cold_start=true request_id={cold.request_id}" in cold.log_lines
    assert re.search(r"\tInit Duration: \d+\.\d\d ms\t$", cold.log_lines[-1])


def test_handler_exception_reaches_the_caller(example: Path) -> None:
    (result,) = invoke(example, (b'{"fail": true, "name": "x"}', {}))
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "failing on purpose for 'x'"
    assert all(isinstance(frame, str) for frame in error["stackTrace"])  # awslambdaric sends string frames
    assert result.error_type == "ValueError"


def test_missing_module_is_an_init_error_posted_by_the_client(example: Path) -> None:
    broken = example.parent / "broken"
    shutil.copytree(example, broken)
    script = (broken / "bootstrap").read_text().replace("app.handler", "nosuchmodule.handler")
    (broken / "bootstrap").write_text(script)

    async def go() -> InvocationResult:
        async with Environment(FunctionConfig.create(broken, timeout_s=10)) as env:
            return await env.invoke(b"{}")

    result: InvocationResult = run(go())
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert "nosuchmodule" in error["errorMessage"]
    init_reports = [line for line in result.log_lines if line.startswith("INIT_REPORT")]
    assert len(init_reports) == 2  # the init phase, then the suppressed retry inside the invoke
    assert init_reports[0].endswith("\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError")
    assert init_reports[1].endswith("\tPhase: invoke\tStatus: error\tError Type: Runtime.ImportModuleError")
