"""A Python function run by the real AWS runtime interface client (awslambdaric) as its bootstrap."""

from __future__ import annotations

import os
from typing import Any

COLD = {"start": True}  # module state survives between invocations of one environment


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    was_cold, COLD["start"] = COLD["start"], False
    print(f"cold_start={str(was_cold).lower()} request_id={context.aws_request_id}")
    if event.get("fail"):
        raise ValueError(f"failing on purpose for {event.get('name', 'nobody')!r}")
    return {
        "message": f"hello, {event.get('name', 'world')}",
        "cold_start": was_cold,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_arn": context.invoked_function_arn,
        "memory_mb": os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
        "client_custom": context.client_context.custom if context.client_context else None,
        "cognito_identity_id": context.identity.cognito_identity_id if context.identity else None,
    }
