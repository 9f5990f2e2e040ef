"""Shared printing helpers for commands: one console for people (stderr), JSON for machines (stdout)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    """rich's Console on stderr, made on first use: importing rich costs more than all of `coldlab --help`,
    and commands import this module at their top."""

    def __init__(self) -> None:
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __enter__(self) -> Console:  # dunders are looked up on the type, not through __getattr__
        return self._real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._real().__exit__(*exc)


if TYPE_CHECKING:
    err_console: Console
else:
    err_console = _LazyConsole()


def print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def print_log_line(line: str) -> None:
    """Log lines go to stderr verbatim (tabs and all), as CloudWatch would store them."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
