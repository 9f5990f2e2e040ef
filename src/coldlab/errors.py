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
