from __future__ import annotations

import re
from pathlib import Path

from coldlab.config import FunctionConfig
from coldlab.platform.envvars import lambda_environment, log_stream_name


def test_provided_al2023_environment() -> None:
    # not create(): validate() refuses AWS_REGION; the platform must put Lambda's value over it all the same
    config = FunctionConfig(
        Path("/code"), function_name="fn", memory_mb=512, environment={"MY_VAR": "1", "AWS_REGION": "spoofed"}
    )
    env = lambda_environment(config, runtime_api="127.0.0.1:9001", task_root="/code", log_stream="s")
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["_HANDLER"] == "bootstrap"
    assert env["LAMBDA_TASK_ROOT"] == "/code"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["TZ"] == ":UTC"
    assert env["AWS_REGION"] == "us-east-1"  # reserved: the function cannot override it
    assert env["MY_VAR"] == "1"
    assert "AWS_EXECUTION_ENV" not in env  # not set for provided.* runtimes
    assert "_X_AMZN_TRACE_ID" not in env


def test_log_stream_name_format() -> None:
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", log_stream_name("$LATEST"))
