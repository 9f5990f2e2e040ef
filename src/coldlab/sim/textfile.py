"""Reading simulator input files safely: CSV rows with their line numbers, and small JSON documents.

Whatever the bytes are, a reader either yields rows or raises one UsageError that names the file, the line
and the column: binary data, text that is not UTF-8, an archive or a compressed file other than gzip
(gzip is read transparently), a line longer than the csv module's field limit, a FIFO or a device. Lines are
read with a length limit, so a file without line breaks never has to fit in memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from coldlab import regular_file
from coldlab.errors import UsageError

MAX_LINE = csv.field_size_limit()  # 131072: no field can pass the csv module's limit on a shorter line
MAX_JSON = 64 << 20  # bytes of an empirical-values JSON document
GZIP_MAGIC = b"\x1f\x8b"
_OTHER_FORMATS = (  # (magic, offset, what, what to do)
    (b"\xfd7zXZ\x00", 0, "xz-compressed", "unxz it first (the Azure 2019 dataset ships as .tar.xz)"),
    (b"BZh", 0, "bzip2-compressed", "bunzip2 it first"),
    (b"\x28\xb5\x2f\xfd", 0, "zstd-compressed", "unzstd it first"),
    (b"PK\x03\x04", 0, "a zip archive", "unzip it and pass the CSV file inside"),
    (b"ustar", 257, "a tar archive", "extract it (tar xf) and pass one CSV file from it"),
)
_FIX = "fix the file or regenerate it"


def _fail(path: Path, where: str, what: str, hint: str = _FIX) -> UsageError:
    return UsageError(f"{path}:{where}: {what}", hint)


def open_input(path: Path) -> io.BufferedIOBase:
    """A binary stream of a regular file's contents (gunzipped when it is gzip); UsageError otherwise."""
    try:
        fd = regular_file.open_regular(path)
    except regular_file.NotRegularFile:
        raise UsageError(
            f"{path}: not a regular file", "pass a file on disk (not a FIFO, device or directory)"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror}", "check the path and its permissions"
        ) from None
    raw = io.BufferedReader(io.FileIO(fd, "rb"), buffer_size=1 << 16)
    head = raw.peek(512)[:512]
    for magic, offset, what, todo in _OTHER_FORMATS:
        if head[offset : offset + len(magic)] == magic:
            raw.close()
            raise _fail(path, "1", f"{what}, not CSV text", todo)
    if head.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # closing it leaves `raw` open: see _close
    return raw


def _close(stream: io.BufferedIOBase) -> None:
    inner = getattr(stream, "fileobj", None)
    stream.close()
    if inner is not None:
        inner.close()


def _column_at(text: str, pos: int) -> int:
    """0-based CSV column of character `pos` in one line (quote-aware)."""
    column, quoted = 0, False
    for ch in text[:pos]:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            column += 1
    return column


def column_name(header: list[str], index: int) -> str:
    return repr(header[index]) if index < len(header) and header[index] else str(index + 1)


def _lines(path: Path, stream: io.BufferedIOBase, header: list[str]) -> Iterator[tuple[int, str]]:
    """(line number, decoded line with its line ending), each checked for length, NUL bytes and UTF-8."""
    number = 0
    while True:
        try:
            raw = stream.readline(MAX_LINE + 1)
        except (OSError, EOFError, zlib.error) as exc:  # gzip: damaged or cut short
            raise _fail(path, str(number + 1), f"gzip data damaged or truncated ({exc})") from None
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark, as spreadsheet exports write
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            good = raw[: exc.start].decode("utf-8", "replace")
            col = column_name(header, _column_at(good, len(good)))
            what = "binary data" if b"\0" in raw else "not UTF-8 text"
            raise _fail(
                path, f"{number}:{len(good) + 1}", f"column {col}: {what} (byte 0x{raw[exc.start]:02x})"
            ) from None
        if "\0" in text:
            at = text.index("\0")
            col = column_name(header, _column_at(text, at))
            raise _fail(path, f"{number}:{at + 1}", f"column {col}: binary data (a NUL byte), not CSV text")
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            col = column_name(header, _column_at(text, len(text)))
            raise _fail(
                path,
                str(number),
                f"column {col}: line longer than {MAX_LINE} bytes (the csv module's field limit)",
                "a trace row is a few kB at most: is this the right file?",
            )
        yield number, text


class CsvRows:
    """The rows after the header as (line number, cells), streamed. Iterating to the end closes the file;
    `close` (or `with`) closes it early."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream = open_input(path)
        self.header: list[str] = []
        self._line = (0, "")
        self._reader = csv.reader(self._feed(_lines(path, self._stream, self.header)))
        try:
            first = next(self._reader, None)
        except csv.Error as exc:
            self.close()
            raise _fail(path, "1", f"not CSV ({exc})") from None
        except BaseException:
            self.close()
            raise
        if first is None:
            self.close()
            raise _fail(path, "1", "empty file, expected a header row")
        self.header += [h.strip() for h in first]

    def _feed(self, lines: Iterator[tuple[int, str]]) -> Iterator[str]:
        for number, text in lines:
            self._line = (number, text)
            yield text

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        try:
            while True:
                try:
                    row = next(self._reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    number, text = self._line
                    col = column_name(self.header, _column_at(text, len(text)))
                    raise _fail(self.path, str(number), f"column {col}: not CSV ({exc})") from None
                yield self._line[0], row
        finally:
            self.close()

    def close(self) -> None:
        _close(self._stream)

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_json_bytes(path: Path) -> str:
    """A small text document (gzip read transparently), decoded as UTF-8; errors name line and column."""
    stream = open_input(path)
    try:
        data = stream.read(MAX_JSON + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _fail(path, "1", f"gzip data damaged or truncated ({exc})") from None
    finally:
        _close(stream)
    if len(data) > MAX_JSON:
        raise _fail(path, "1", f"larger than {MAX_JSON >> 20} MiB", "pass a list of measured values")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        what = "binary data" if b"\0" in data else "not UTF-8 text"
        raise _fail(path, f"{line}:{col}", f"{what} (byte 0x{data[exc.start]:02x})") from None
