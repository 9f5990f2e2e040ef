"""Errors raised while reading a binary. All are UsageError: the input file is what is wrong (exit 2)."""

from __future__ import annotations

from coldlab.errors import UsageError


class BinaryError(UsageError):
    """The file cannot be inspected: missing, not ELF, not Go, unsupported Go, truncated or corrupt."""


def corrupt(path: object, what: str) -> BinaryError:
    """A one-line error for a damaged file: names the file and what was expected there."""
    return BinaryError(
        f"{path}: {what}",
        "expected an intact Go ELF executable (linux/amd64 or linux/arm64, Go 1.18-1.27); rebuild it",
    )
