"""The environment Lambda gives a `provided.al2023` runtime (reference §6)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from coldlab.config import FunctionConfig


def log_stream_name(version: str, now: datetime | None = None) -> str:
    """`YYYY/MM/DD/[$LATEST]<32 hex>`, one per execution environment."""
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{secrets.token_hex(16)}"


def lambda_environment(
    config: FunctionConfig,
    *,
    runtime_api: str,
    task_root: str,
    log_stream: str,
    credentials: dict[str, str] | None = None,
    initialization_type: str = "on-demand",
) -> dict[str, str]:
    """Variables set for the bootstrap: the function's own first, Lambda's reserved ones over them."""
    env = dict(config.environment)
    runtime_dir = "/var/runtime"
    env.setdefault("LANG", "en_US.UTF-8")
    env.setdefault("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
    env.setdefault(
        "LD_LIBRARY_PATH",
        f"/lib64:/usr/lib64:{runtime_dir}:{runtime_dir}/lib:{task_root}:{task_root}/lib:/opt/lib",
    )
    env.setdefault("TZ", ":UTC")
    env.update(
        {
            "_HANDLER": config.handler,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": config.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
            "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
            "_AWS_XRAY_DAEMON_PORT": "2000",
        }
    )
    # AWS_EXECUTION_ENV is not set for provided.* runtimes (reference §6).
    env.pop("AWS_EXECUTION_ENV", None)
    if credentials:
        env.update(credentials)
        if "AWS_ACCESS_KEY_ID" in credentials:
            env["AWS_ACCESS_KEY"] = credentials["AWS_ACCESS_KEY_ID"]
    return env
