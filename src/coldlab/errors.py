"""One exception tree. Each error says what happened and what to do about it.

The CLI turns a ColdlabError into a one-line message and an exit code; library code never exits.
"""

from __future__ import annotations


class ColdlabError(Exception):
    """Base of every error coldlab raises on purpose.

    `message` says what is wrong (and where); `hint` says what to do. `exit_code` is what the CLI returns.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(ColdlabError):
    """Bad input from the user: a flag out of range, a malformed file, a missing path. Exit code 2."""

    exit_code = 2


class CodeError(UsageError):
    """The function code (directory or zip) cannot be used: no bootstrap, unsafe zip, too big."""


class EventError(UsageError):
    """The event file is missing or is not JSON."""


class ToolchainError(ColdlabError):
    """The Go toolchain is missing or a build failed."""


class SandboxError(ColdlabError):
    """The operating system refused something coldlab needed (spawn, cgroup write, signal)."""


class RuntimeApiError(ColdlabError):
    """The Runtime API server could not start or was used in a way it cannot serve."""


class BudgetExceededError(ColdlabError):
    """A user-set budget (size, init time, latency) was exceeded. Exit code 1, for CI."""

    exit_code = 1


class LambdaApiError(ColdlabError):
    """An AWS Lambda API error, for the gateway to send as botocore parses it (reference serve §2.1).

    `code` goes in `x-amzn-ErrorType`; `message_key` is the body member the service model spells for this
    exception (`Message` or `message`); `extra` are further body members (e.g. `Reason`).
    """

    status = 400
    code = "InvalidParameterValueException"
    message_key = "message"
    exit_code = 2

    def __init__(self, message: str, *, extra: dict[str, str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)  # the hint is for the CLI's line; body() sends Lambda's message alone
        self.extra = dict(extra or {})

    def body(self) -> dict[str, str]:
        return {"Type": "User", self.message_key: self.message, **self.extra}


class InvalidParameterValue(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    pass


class ResourceNotFound(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    status, code, message_key = 404, "ResourceNotFoundException", "Message"


class ResourceConflict(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    status, code = 409, "ResourceConflictException"


class ProvisionedConcurrencyConfigNotFound(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    status, code = 404, "ProvisionedConcurrencyConfigNotFoundException"


class RequestTooLarge(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    """Over the payload limit: AWS answers with a code the model lacks (RequestEntityTooLargeException)."""

    status, code = 413, "RequestEntityTooLargeException"


class PreconditionFailed(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    status, code = 412, "PreconditionFailedException"


class InvalidRequestContent(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    code = "InvalidRequestContentException"


class TooManyRequests(LambdaApiError):  # noqa: N818 (named after the AWS error, as the serve contract spells it)
    """429 with the `Reason` botocore lifts to the top of `e.response`."""

    status, code = 429, "TooManyRequestsException"

    def __init__(self, reason: str, message: str = "Rate Exceeded.") -> None:
        super().__init__(message, extra={"Reason": reason})
        self.reason = reason


class Terminated(BaseException):
    """SIGTERM arrived (from `timeout`, a CI runner, a service manager): unwind as Ctrl-C does, clean-up too.

    A BaseException, as KeyboardInterrupt is, so `except Exception` in library code does not swallow it.
    The CLI prints `coldlab: terminated` and exits 143 (128 + SIGTERM).
    """

    exit_code = 143
