"""Damaged zips: every kind of damage is one line naming the archive and the entry, never a traceback."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from coldlab.unpack import UnpackError
from coldlab.unzip import is_zip, unpack_zip

DATA = b"function code " * 400  # compresses well: the deflate stream is short and easy to damage


def package(path: Path, data: bytes = DATA) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        bundle.writestr(info, data)
    return path


def patch(path: Path, header: bytes, offset: int, value: bytes) -> None:
    """Overwrite a field of the local header and the central directory entry (the first of each)."""
    data = bytearray(path.read_bytes())
    start = data.index(header)
    data[start + offset : start + offset + len(value)] = value
    path.write_bytes(bytes(data))


def patch_both(path: Path, local_offset: int, value: bytes) -> None:
    patch(path, b"PK\x03\x04", local_offset, value)
    patch(path, b"PK\x01\x02", local_offset + 2, value)  # central entries have "version made by" first


def refused(path: Path, tmp_path: Path) -> str:
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    with pytest.raises(UnpackError) as error:
        unpack_zip(path, target, max_bytes=10**6)
    line = str(error.value)
    assert "\n" not in line
    assert str(path) in line
    return line


def test_damaged_deflate_data(tmp_path: Path) -> None:
    archive = package(tmp_path / "f.zip")
    data = bytearray(archive.read_bytes())
    start = 30 + len("bootstrap")  # the deflate stream follows the local header and the name
    data[start : start + 8] = b"\xff" * 8  # block type 3 does not exist (zlib.error)
    archive.write_bytes(bytes(data))
    assert "entry 'bootstrap' has damaged compressed data (Error -3" in refused(archive, tmp_path)


def test_crc_mismatch(tmp_path: Path) -> None:
    archive = package(tmp_path / "f.zip")
    patch_both(archive, 14, b"\x00\x00\x00\x00")
    assert "entry 'bootstrap' fails its CRC-32 check" in refused(archive, tmp_path)


def test_truncated_zip_says_truncated(tmp_path: Path) -> None:
    archive = package(tmp_path / "f.zip")
    archive.write_bytes(archive.read_bytes()[:-40])
    assert is_zip(archive)
    assert "is truncated: the zip's end (its central directory) is missing" in refused(archive, tmp_path)


def test_damaged_headers_are_not_called_truncated(tmp_path: Path) -> None:
    archive = package(tmp_path / "f.zip")
    patch(archive, b"PK\x01\x02", 0, b"XXXX")  # the central directory entry's signature
    assert "has damaged zip headers" in refused(archive, tmp_path)


def test_encrypted_entry(tmp_path: Path) -> None:
    archive = package(tmp_path / "f.zip")
    patch_both(archive, 6, b"\x01\x00")
    assert "entry 'bootstrap' is encrypted (zip it again without a password)" in refused(archive, tmp_path)


def test_unsupported_compression_method(tmp_path: Path) -> None:
    archive = package(tmp_path / "f.zip")
    patch_both(archive, 8, (9).to_bytes(2, "little"))  # deflate64
    assert "entry 'bootstrap' uses compression method 9" in refused(archive, tmp_path)


def test_device_or_fifo_entries_are_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "f.zip", "w") as bundle:
        info = zipfile.ZipInfo("pipe")
        info.external_attr = (stat.S_IFIFO | 0o644) << 16
        bundle.writestr(info, b"")
    assert "entry 'pipe' is a device, FIFO or socket" in refused(tmp_path / "f.zip", tmp_path)


def test_lzma_and_bzip2_packages_are_read(tmp_path: Path) -> None:
    for method in (zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2, zipfile.ZIP_STORED):
        with zipfile.ZipFile(tmp_path / "f.zip", "w", method) as bundle:
            bundle.writestr("bootstrap", DATA)
        target = tmp_path / f"t{method}"
        target.mkdir()
        assert unpack_zip(tmp_path / "f.zip", target, max_bytes=10**6).bytes_written == len(DATA)
        assert (target / "bootstrap").read_bytes() == DATA
