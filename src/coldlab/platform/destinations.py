"""Destinations of asynchronous invocations, as files: where OnSuccess/OnFailure records go, and their shape.

On AWS a destination is an SQS queue, SNS topic, function, event bus or (on failure) an S3 bucket; coldlab
writes the same record (reference serve §2.5) to a file instead. `Destination` is `file:///abs/path` or
`/abs/path`: a path ending in `/`, or an existing directory, gets one JSON file per record (written to a
temporary name, then renamed: a reader never sees half a record); anything else is a JSON Lines file, one
record per line, appended. Both are fsynced before the event leaves the queue.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from coldlab.errors import InvalidParameterValue
from coldlab.store.records import iso


@dataclass(frozen=True)
class Destination:
    raw: str  # as configured (what GetFunctionEventInvokeConfig gives back)
    path: Path
    directory: bool

    def describe(self) -> str:
        return f"{self.path}/ (a file per record)" if self.directory else f"{self.path} (JSON Lines)"


def parse_destination(value: object, member: str) -> Destination:
    """A Destination member; 400 naming the member for anything but an absolute file path."""
    if not isinstance(value, str) or not value:
        raise InvalidParameterValue(f"{member} must be a string: file:///absolute/path")
    if value.startswith("file://"):
        parsed = urlparse(value)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterValue(
                f"{member} {value!r}: a file:// URL names a local path (file:///path)"
            )
        text = unquote(parsed.path)
    else:
        text = value
    if not text.startswith("/"):
        raise InvalidParameterValue(
            f"{member} {value!r}: coldlab serve writes destination records to files; give "
            "file:///absolute/path (ending in / for a directory of JSON files, else a JSON Lines file)"
        )
    path = Path(text)
    return Destination(value, path, directory=text.endswith("/") or path.is_dir())


def destination_record(
    *,
    condition: str,
    request_id: str,
    function_arn: str,
    invoke_count: int,
    payload: bytes,
    status_code: int,
    executed_version: str,
    function_error: str | None,
    response: bytes | None,
    now: float | None = None,
) -> dict[str, Any]:
    """The invocation record AWS sends to a destination (reference serve §2.5)."""
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": executed_version}
    if function_error is not None:
        response_context["functionError"] = function_error
    return {
        "version": "1.0",
        "timestamp": iso(time.time() if now is None else now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(payload),
        "responseContext": response_context,
        "responsePayload": None if response is None else _json_or_text(response),
    }


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def write_record(destination: Destination, record: dict[str, Any]) -> Path:
    """Write one record durably (blocking: call it in a thread); OSError when the place is not writable."""
    line = json.dumps(record, separators=(",", ":")) + "\n"
    if destination.directory:
        destination.path.mkdir(parents=True, exist_ok=True)
        context = record["requestContext"]
        stamp = record["timestamp"].replace(":", "").replace("-", "")
        name = f"{stamp}-{context['requestId']}-{context['condition']}.json"
        final = destination.path / name
        temporary = destination.path / f".{name}.tmp"
        _write_all(temporary, line.encode(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        temporary.replace(final)
        _fsync_directory(destination.path)
        return final
    destination.path.parent.mkdir(parents=True, exist_ok=True)
    _write_all(destination.path, line.encode(), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    return destination.path


def _write_all(path: Path, data: bytes, flags: int) -> None:
    fd = os.open(path, flags | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
