"""Invocation events and client contexts: read from files or stdin, checked against Lambda's limits before
anything runs, with errors that say where the input broke."""

from __future__ import annotations

import base64
import binascii
import json
import sys
from pathlib import Path

from coldlab.errors import EventError, RequestTooLarge, UsageError

# Invoke API payload limits (reference lambda-contract §7; the message is the one AWS returns, serve §2.1).
SYNC_EVENT_MAX_BYTES = 6_291_456  # 6 MiB, RequestResponse
ASYNC_EVENT_MAX_BYTES = 1_048_576  # 1 MiB, Event (256 KiB before 2025)
CLIENT_CONTEXT_MAX_BYTES = 3_583  # of the base64 text in X-Amz-Client-Context
_CLIENT_CONTEXT_READ_MAX = 1 << 16  # far over the limit even as spaced-out base64: refuse without parsing
_STDIN_CHUNK = 1 << 20


def check_event_size(
    size: int, *, invocation_type: str = "RequestResponse", where: str = "", read_to_limit: bool = False
) -> None:
    """Raise RequestTooLarge (Lambda's message, RequestEntityTooLargeException) when an event of `size`
    bytes is over the limit of `invocation_type`. `where` names the input for the CLI's hint;
    `read_to_limit`: only the limit and one byte were read, so the event has at least `size` bytes."""
    source = f"the event in {where}" if where else "the event"
    told = f"over {size - 1}" if read_to_limit else str(size)
    if invocation_type == "Event":
        if size > ASYNC_EVENT_MAX_BYTES:
            raise RequestTooLarge(
                f"{size} byte payload is too large for the Event invocation type "
                f"(limit {ASYNC_EVENT_MAX_BYTES} bytes)",
                hint=f"{source} has {told} bytes; send at most {ASYNC_EVENT_MAX_BYTES}",
            )
    elif size > SYNC_EVENT_MAX_BYTES:
        raise RequestTooLarge(
            f"Request must be smaller than {SYNC_EVENT_MAX_BYTES} bytes for the InvokeFunction operation",
            hint=f"{source} has {told} bytes; send at most {SYNC_EVENT_MAX_BYTES}",
        )


def read_event(source: str | None) -> bytes:
    """The event bytes from a file path, '-' for stdin, or None for `{}`: at most 6 MB, and valid JSON.

    The size is checked before the event is read whole (a file's size from stat; stdin up to the limit)."""
    if source is None:
        return b"{}"
    if source == "-":
        where = "stdin"
        data = _read_stdin(SYNC_EVENT_MAX_BYTES + 1)  # one byte more tells "over the limit"
        check_event_size(len(data), where=where, read_to_limit=True)
    else:
        where = source
        path = Path(source)
        if not path.exists() or path.is_dir():
            raise EventError(f"event file {source} does not exist", "pass a JSON file, or - to read stdin")
        try:
            if path.is_file():  # its exact size, before reading it
                check_event_size(path.stat().st_size, where=where)
            with path.open("rb") as file:  # a FIFO or device has no size: read one byte over the limit
                data = file.read(SYNC_EVENT_MAX_BYTES + 1)
        except OSError as exc:
            raise EventError(f"event file {source} cannot be read: {exc.strerror}") from exc
        check_event_size(len(data), where=where, read_to_limit=True)
    _check_json(data, f"event in {where}", EventError)
    return data


def read_client_context(source: str) -> str:
    """The client context from a file (or '-' for stdin) as the AWS CLI takes it: base64 of a JSON object,
    or the JSON object itself. Returns the decoded JSON text, which is what Lambda hands the runtime in
    Lambda-Runtime-Client-Context; over 3,583 bytes of base64, not JSON, or not an object: UsageError."""
    where = "stdin" if source == "-" else source
    if source == "-":
        raw = _read_stdin(_CLIENT_CONTEXT_READ_MAX + 1)
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(
                f"client context file {source} does not exist", "pass a JSON (or base64 JSON) file"
            )
        try:
            with path.open("rb") as file:
                raw = file.read(_CLIENT_CONTEXT_READ_MAX + 1)
        except OSError as exc:
            raise UsageError(f"client context file {source} cannot be read: {exc.strerror}") from exc
    if len(raw) > _CLIENT_CONTEXT_READ_MAX:
        raise UsageError(
            f"client context in {where} is over {_CLIENT_CONTEXT_READ_MAX} bytes; Lambda allows "
            f"{CLIENT_CONTEXT_MAX_BYTES} bytes of base64",
            "shorten the client context",
        )
    text = raw.strip()
    if text[:1] in (b"{", b"["):  # JSON as it is (base64 never starts so): say where it breaks
        value = _check_json(text, f"client context in {where}", UsageError)
        document, encoded = text, base64.b64encode(text)
    else:  # base64 of JSON, as the AWS CLI takes it
        encoded = b"".join(text.split())
        try:
            document = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UsageError(
                f"client context in {where} is neither JSON nor base64",
                "pass a JSON object, or its base64 as `aws lambda invoke --client-context` takes it",
            ) from exc
        value = _check_json(document, f"client context (base64-decoded) in {where}", UsageError)
    if not isinstance(value, dict):
        raise UsageError(
            f"client context in {where} is a JSON {type(value).__name__}, not an object",
            'pass a JSON object such as {"custom": {}, "env": {}, "client": {}}',
        )
    if len(encoded) > CLIENT_CONTEXT_MAX_BYTES:
        raise UsageError(
            f"client context in {where} is {len(encoded)} bytes as base64; Lambda allows "
            f"{CLIENT_CONTEXT_MAX_BYTES}",
            "shorten the client context",
        )
    if b"\n" in document or b"\r" in document:  # a header value cannot carry line breaks
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return document.decode()


def _check_json(data: bytes, what: str, error: type[UsageError]) -> object:
    """The parsed JSON, or `error` saying where it broke."""
    hint = "fix the JSON: Lambda events and client contexts are JSON documents"
    try:
        return json.loads(data.decode())  # UTF-8 only: json.loads(bytes) would take UTF-16 and UTF-32 too
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text", "save it as UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise error(f"{what} is not valid JSON: {exc.msg} at {where}", hint) from exc
    except RecursionError as exc:
        raise error(f"{what} nests too deeply to parse", hint) from exc


def _read_stdin(limit: int) -> bytes:
    """Up to `limit` bytes of stdin: a larger input is not kept in memory."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := sys.stdin.buffer.read(min(_STDIN_CHUNK, limit - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
