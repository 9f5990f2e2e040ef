"""Events and client contexts as the CLI reads them: Lambda's size limits before anything runs, one-line errors."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
import threading
from pathlib import Path

import pytest

from coldlab.errors import EventError, RequestTooLarge, UsageError
from coldlab.events import (
    ASYNC_EVENT_MAX_BYTES,
    CLIENT_CONTEXT_MAX_BYTES,
    SYNC_EVENT_MAX_BYTES,
    check_event_size,
    read_client_context,
    read_event,
)

SYNC_MESSAGE = "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


class _Stdin:
    """sys.stdin with a `buffer`, as read_event reads it."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def _json_of_size(size: int) -> bytes:
    padding = size - len(b'{"p":""}')
    return b'{"p":"' + b"x" * padding + b'"}'


def test_the_limit_is_six_mebibytes_and_lambdas_message() -> None:
    assert SYNC_EVENT_MAX_BYTES == 6 * 1024 * 1024
    check_event_size(SYNC_EVENT_MAX_BYTES)
    with pytest.raises(RequestTooLarge) as info:
        check_event_size(SYNC_EVENT_MAX_BYTES + 1, where="big.json")
    assert info.value.message == SYNC_MESSAGE
    assert info.value.code == "RequestEntityTooLargeException"
    assert info.value.status == 413
    assert info.value.exit_code == 2
    assert info.value.body()["message"] == SYNC_MESSAGE  # the server's body carries no CLI hint
    assert (
        str(info.value) == f"{SYNC_MESSAGE} (the event in big.json has 6291457 bytes; send at most 6291456)"
    )


def test_asynchronous_events_have_their_own_limit() -> None:
    check_event_size(SYNC_EVENT_MAX_BYTES)  # fine synchronously
    check_event_size(ASYNC_EVENT_MAX_BYTES, invocation_type="Event")
    with pytest.raises(
        RequestTooLarge, match=r"^1048577 byte payload is too large for the Event invocation type"
    ):
        check_event_size(ASYNC_EVENT_MAX_BYTES + 1, invocation_type="Event")


def test_event_files_at_and_over_the_limit(tmp_path: Path) -> None:
    exact = tmp_path / "exact.json"
    exact.write_bytes(_json_of_size(SYNC_EVENT_MAX_BYTES))
    assert len(read_event(str(exact))) == SYNC_EVENT_MAX_BYTES
    over = tmp_path / "over.json"
    over.write_bytes(_json_of_size(SYNC_EVENT_MAX_BYTES + 1))
    with pytest.raises(RequestTooLarge, match=f"in {over} has 6291457 bytes"):
        read_event(str(over))


def test_an_oversized_fifo_is_refused_after_reading_one_byte_over(tmp_path: Path) -> None:
    fifo = tmp_path / "event.fifo"
    os.mkfifo(fifo)

    def write() -> None:  # more than the limit; the reader stops one byte over it and closes
        with contextlib.suppress(BrokenPipeError), fifo.open("wb") as sink:
            sink.write(_json_of_size(SYNC_EVENT_MAX_BYTES + 100_000))

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with pytest.raises(RequestTooLarge, match="has over 6291456 bytes"):
            read_event(str(fifo))
    finally:
        writer.join(10)
    assert not writer.is_alive()


def test_stdin_over_the_limit_is_not_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = _Stdin(_json_of_size(SYNC_EVENT_MAX_BYTES * 2))
    monkeypatch.setattr(sys, "stdin", stdin)
    with pytest.raises(RequestTooLarge, match="the event in stdin has over 6291456 bytes"):
        read_event("-")
    assert stdin.buffer.tell() == SYNC_EVENT_MAX_BYTES + 1


def test_stdin_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(b'{"a": 1}'))
    assert read_event("-") == b'{"a": 1}'


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (
            b'{"a": 1,,}',
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 9",
        ),
        (b'{"a": "\xc3\x28"}', "is not UTF-8 text"),
        ('{"a": 1}'.encode("utf-16"), "is not UTF-8 text"),
        (b"[" * 100_000, "nests too deeply to parse"),
    ],
)
def test_bad_events_say_where(tmp_path: Path, data: bytes, fragment: str) -> None:
    event = tmp_path / "event.json"
    event.write_bytes(data)
    with pytest.raises(EventError, match=fragment):
        read_event(str(event))


CONTEXT = {"custom": {"tenant": "blue"}, "env": {"platform": "coldlab"}, "client": {"app_title": "t"}}


def test_client_context_as_json_or_base64(tmp_path: Path) -> None:
    text = json.dumps(CONTEXT)
    as_json = tmp_path / "ctx.json"
    as_json.write_text(text + "\n")
    assert read_client_context(str(as_json)) == text
    as_base64 = tmp_path / "ctx.b64"
    as_base64.write_text(base64.b64encode(text.encode()).decode() + "\n")  # as `aws lambda invoke` takes it
    assert read_client_context(str(as_base64)) == text


def test_client_context_with_line_breaks_reaches_the_header_on_one_line(tmp_path: Path) -> None:
    pretty = tmp_path / "ctx.json"
    pretty.write_text(json.dumps(CONTEXT, indent=2))
    decoded = read_client_context(str(pretty))
    assert "\n" not in decoded
    assert json.loads(decoded) == CONTEXT


def test_client_context_at_and_over_the_base64_limit(tmp_path: Path) -> None:
    def with_base64_length(length: int) -> bytes:
        raw = length * 3 // 4  # base64 of n bytes (n a multiple of 3) is 4n/3 characters
        return json.dumps({"custom": {"p": "x" * (raw - len('{"custom": {"p": ""}}'))}}).encode()

    exact = tmp_path / "exact.json"
    exact.write_bytes(with_base64_length(3_580))  # the largest multiple of 4 within 3,583
    assert len(base64.b64encode(exact.read_bytes())) <= CLIENT_CONTEXT_MAX_BYTES
    read_client_context(str(exact))
    over = tmp_path / "over.json"
    over.write_bytes(with_base64_length(3_584))
    with pytest.raises(
        UsageError, match=f"client context in {over} is 3584 bytes as base64; Lambda allows 3583"
    ):
        read_client_context(str(over))
    huge = tmp_path / "huge.b64"
    huge.write_bytes(b"A" * 10_000_000)
    with pytest.raises(UsageError, match="is over 65536 bytes"):
        read_client_context(str(huge))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"custom": }', "is not valid JSON: Expecting value at line 1, column 12"),
        (b"not base64 at all!", "is neither JSON nor base64"),
        (base64.b64encode(b"plain text"), "client context (base64-decoded) in"),
        (base64.b64encode(b"[1, 2]"), "is a JSON list, not an object"),
        (b"[1, 2]", "is a JSON list, not an object"),
        (base64.b64encode(b"\xff\xfe\x00"), "is not UTF-8 text"),
    ],
)
def test_bad_client_contexts(tmp_path: Path, content: bytes, fragment: str) -> None:
    source = tmp_path / "ctx"
    source.write_bytes(content)
    with pytest.raises(UsageError) as info:
        read_client_context(str(source))
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


def test_missing_client_context_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"client context file .*nope\.json does not exist"):
        read_client_context(str(tmp_path / "nope.json"))
