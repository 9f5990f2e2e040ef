"""Values exchanged through the Runtime API: invocations going in, outcomes coming out."""

from __future__ import annotations

from dataclasses import dataclass

API_VERSION = "2018-06-01"
# interop.MaxPayloadSize in the Runtime Interface Emulator: 6 MiB + 100 bytes (reference §1.5).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
STREAMING_MODE = "streaming"


@dataclass(frozen=True)
class Invocation:
    """One event handed to the runtime by `GET /next`."""

    request_id: str
    payload: bytes
    deadline_ms: int  # Unix epoch milliseconds, as Lambda-Runtime-Deadline-Ms
    function_arn: str
    trace_id: str
    client_context: str | None = None  # decoded JSON text
    cognito_identity: str | None = None  # JSON text
    tenant_id: str | None = None
    content_type: str = "application/json"

    def headers(self) -> dict[str, str]:
        """The `/next` response headers (reference §1.2); optional ones only when present."""
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
            "Content-Type": self.content_type,
        }
        if self.client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        if self.tenant_id is not None:
            headers["Lambda-Runtime-Aws-Tenant-Id"] = self.tenant_id
        return headers


@dataclass(frozen=True)
class Outcome:
    """How an invocation ended, as the caller of Invoke sees it.

    `function_error` is None on success, else the X-Amz-Function-Error value ("Unhandled").
    `error_type` is the Lambda error type when there is one (for REPORT and logs).
    """

    request_id: str
    payload: bytes
    content_type: str = "application/json"
    function_error: str | None = None
    error_type: str | None = None
    streamed: bool = False

    @property
    def ok(self) -> bool:
        return self.function_error is None


@dataclass(frozen=True)
class InitFailure:
    """Init ended badly: `/init/error` was posted (the runtime's own error body and type)."""

    error_type: str
    payload: bytes


@dataclass(frozen=True)
class ApiError:
    """An error reply of the Runtime API: status and the JSON body RIE renders."""

    status: int
    error_type: str
    message: str

    def body(self) -> dict[str, str]:
        return {"errorMessage": self.message, "errorType": self.error_type}
