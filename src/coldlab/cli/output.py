"""Shared printing helpers for commands: one console for people (stderr), JSON for machines (stdout)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def print_log_line(line: str) -> None:
    """Log lines go to stderr verbatim (tabs and all), as CloudWatch would store them."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
