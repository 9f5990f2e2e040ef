"""Reading invocation events from files or stdin, with errors that say where the JSON broke."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from coldlab.errors import EventError


def read_event(source: str | None) -> bytes:
    """The event bytes from a file path, '-' for stdin, or None for `{}`; must be valid JSON."""
    if source is None:
        return b"{}"
    if source == "-":
        data = sys.stdin.buffer.read()
        where = "stdin"
    else:
        path = Path(source)
        if not path.exists() or path.is_dir():
            raise EventError(f"event file {source} does not exist", "pass a JSON file, or - to read stdin")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EventError(f"event file {source} cannot be read: {exc.strerror}") from exc
        where = source
    try:
        json.loads(data)
    except UnicodeDecodeError as exc:
        raise EventError(f"event in {where} is not UTF-8 text", "save the event as UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise EventError(
            f"event in {where} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            "fix the JSON (Lambda events are JSON documents)",
        ) from exc
    return data
