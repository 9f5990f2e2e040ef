"""Zip archives (function code today; Lambda layers are zips too), unpacked through `coldlab.unpack`.

Every way a zip can be damaged (deflate data, CRC, truncation, encryption, compression methods zipfile does
not read) becomes one UnpackError line naming the archive and the entry, never a traceback.
"""

from __future__ import annotations

import lzma
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from coldlab.unpack import MAX_PATH_BYTES, Member, Unpacked, UnpackError, unpack

_ZIP_READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ZIP_LOCAL_HEADER = b"PK\x03\x04"
_ZIP_END_RECORD = b"PK\x05\x06"
# What zipfile and its decompressors raise on damaged input (bz2 raises OSError, lzma its own error).
_ZIP_DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    OverflowError,
    struct.error,
    NotImplementedError,
    RuntimeError,
)
_CHUNK = 1 << 20


def is_zip(path: Path) -> bool:
    """Whether `path` is (or starts like, even if truncated) a zip file."""
    try:
        with path.open("rb") as file:
            head = file.read(4)
    except OSError:
        return False
    return head in (_ZIP_LOCAL_HEADER, _ZIP_END_RECORD) or zipfile.is_zipfile(path)


def unpack_zip(archive: Path, target: Path, *, max_bytes: int, what: str = "archive") -> Unpacked:
    """Unpack a zip file into the empty directory `target` (see `unpack`)."""
    label = str(archive)
    try:
        bundle = zipfile.ZipFile(archive)
    except _ZIP_DAMAGE as exc:
        raise _unreadable_zip(archive, exc) from exc
    with bundle:
        members = (_zip_member(bundle, info, label) for info in bundle.infolist())
        return unpack(members, target, label=label, max_bytes=max_bytes, what=what)


def _unreadable_zip(archive: Path, exc: Exception) -> UnpackError:
    if isinstance(exc, OSError) and not isinstance(exc, zipfile.BadZipFile) and exc.strerror:
        return UnpackError(f"cannot read {archive}: {exc.strerror}", "check the file's path and permissions")
    try:
        with archive.open("rb") as file:
            head = file.read(4)
            file.seek(max(0, archive.stat().st_size - 65_557))  # the end record lies in the last 64 KiB + 22
            tail = file.read()
    except OSError:
        head, tail = b"", b""
    if head == _ZIP_LOCAL_HEADER and _ZIP_END_RECORD not in tail:
        return UnpackError(
            f"{archive} is truncated: the zip's end (its central directory) is missing",
            "copy or download the zip again, or rebuild it",
        )
    return UnpackError(f"{archive} has damaged zip headers: {exc}", "rebuild the zip")


def _zip_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> Member:
    name = info.filename
    if info.flag_bits & 0x1:
        raise UnpackError(f"{label}: entry {name!r} is encrypted", "zip it again without a password")
    if info.compress_type not in _ZIP_READABLE:
        raise UnpackError(
            f"{label}: entry {name!r} uses compression method {info.compress_type}, "
            "which coldlab cannot read",
            "rebuild the zip with deflate, zip's default",
        )
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        data = b"".join(_zip_chunks(bundle, info, label, MAX_PATH_BYTES + 1))
        return Member(name, "link", mode & 0o777, link=data.decode("utf-8", "surrogateescape"))
    if name.endswith("/") or kind == stat.S_IFDIR:  # (ZipInfo.is_dir fails on an empty name)
        return Member(name, "dir", mode & 0o777)
    if kind not in (0, stat.S_IFREG):
        raise UnpackError(
            f"{label}: entry {name!r} is a device, FIFO or socket", "keep only files, directories and links"
        )
    return Member(name, "file", mode & 0o777, chunks=lambda: _zip_chunks(bundle, info, label))


def _zip_chunks(
    bundle: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, size: int = -1
) -> Iterator[bytes]:
    """An entry's data (its first `size` bytes when size >= 0); damage becomes one line naming the entry."""
    try:
        with bundle.open(info) as source:
            if size >= 0:
                yield source.read(size)
                return
            while chunk := source.read(_CHUNK):
                yield chunk
    except _ZIP_DAMAGE as exc:
        raise _damaged_entry(label, info.filename, exc) from exc


def _damaged_entry(label: str, name: str, exc: Exception) -> UnpackError:
    text = str(exc)
    hint = "copy or download the zip again, or rebuild it"
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in text:
        return UnpackError(f"{label}: entry {name!r} fails its CRC-32 check (its data is damaged)", hint)
    if isinstance(exc, EOFError) or "runcated" in text:
        return UnpackError(f"{label}: entry {name!r} is truncated", hint)
    if isinstance(exc, zlib.error | lzma.LZMAError):
        return UnpackError(f"{label}: entry {name!r} has damaged compressed data ({text})", hint)
    if isinstance(exc, NotImplementedError):
        return UnpackError(f"{label}: entry {name!r} uses a compression coldlab cannot read ({text})", hint)
    return UnpackError(f"{label}: entry {name!r} is damaged ({type(exc).__name__}: {text})", hint)
