"""Is this file an ELF whose headers fit inside it? Checked before pyelftools reads it, so a Mach-O or PE
file, or a cut one, gets a line that says so ("truncated") instead of pyelftools' "damaged headers"."""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from coldlab.inspect.errors import BinaryError, corrupt

Buffer = bytes | mmap.mmap  # as elf.py holds the file: in memory, or mapped read-only


def check_magic(path: Path, data: Buffer) -> None:
    head = data[:4]
    if head == b"\x7fELF":
        if len(data) < 64:
            raise corrupt(path, f"truncated: only {len(data)} bytes, too short for an ELF header")
        return
    if head[:2] == b"MZ":
        raise BinaryError(
            f"{path}: a Windows PE file, expected a Linux ELF Go executable",
            "build with GOOS=linux for Lambda",
        )
    if head in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ):
        raise BinaryError(
            f"{path}: a Mach-O (macOS) file, expected a Linux ELF Go executable",
            "build with GOOS=linux for Lambda",
        )
    raise BinaryError(
        f"{path}: not an ELF file (no \\x7fELF magic), expected a Go executable",
        "pass the compiled bootstrap, not a source file or zip",
    )


# Offsets of the header fields check_length needs, per ELF class (1: 32-bit, 2: 64-bit): the ELF header's
# (phoff, shoff, phentsize, phnum, shentsize, shnum), and within one entry (type, offset, size).
_HEADER = {1: ("I", 0x1C, 0x20, 0x2A, 0x2C, 0x2E, 0x30), 2: ("Q", 0x20, 0x28, 0x36, 0x38, 0x3A, 0x3C)}
_SECTION = {1: (0x04, 0x10, 0x14, 0x28), 2: (0x04, 0x18, 0x20, 0x40)}  # + the entry's minimum size
_SEGMENT = {1: (0x04, 0x10, 0x20), 2: (0x08, 0x20, 0x38)}  # p_offset, p_filesz, minimum size
_SHT_NOBITS = 8


def check_length(path: Path, data: Buffer) -> None:
    """Refuse a file whose own headers say it is longer than it is, before pyelftools reads past the end
    (which it reports as damage): the header tables, then every section and segment with file bytes."""
    cls = data[4]
    if cls not in _HEADER:
        return  # not a class pyelftools reads either: it says so
    end = "<" if data[5] == 1 else ">"
    word, at_ph, at_sh, at_phsz, at_phn, at_shsz, at_shn = _HEADER[cls]
    (phoff,) = struct.unpack_from(end + word, data, at_ph)
    (shoff,) = struct.unpack_from(end + word, data, at_sh)
    (phentsize,) = struct.unpack_from(end + "H", data, at_phsz)
    (phnum,) = struct.unpack_from(end + "H", data, at_phn)
    (shentsize,) = struct.unpack_from(end + "H", data, at_shsz)
    (shnum,) = struct.unpack_from(end + "H", data, at_shn)
    size = len(data)
    for what, start, count, entsize in (
        ("program header table", phoff, phnum, phentsize),
        ("section header table", shoff, shnum, shentsize),
    ):
        if count and start + count * entsize > size:
            raise _truncated(path, f"the {what} ends at byte {start + count * entsize}", size)
    t_off, o_off, s_off, minimum = _SECTION[cls]
    if shnum and shentsize >= minimum:
        # (the section-name table sits near the end: a truncated file has lost it, so sections go by index)
        for k in range(shnum):
            base = shoff + k * shentsize
            (kind,) = struct.unpack_from(end + "I", data, base + t_off)
            (offset,) = struct.unpack_from(end + word, data, base + o_off)
            (length,) = struct.unpack_from(end + word, data, base + s_off)
            if kind != _SHT_NOBITS and length and offset + length > size:
                raise _truncated(path, f"section {k} ends at byte {offset + length}", size)
    o_off, f_off, minimum = _SEGMENT[cls]
    if phnum and phentsize >= minimum:
        for k in range(phnum):
            base = phoff + k * phentsize
            (offset,) = struct.unpack_from(end + word, data, base + o_off)
            (length,) = struct.unpack_from(end + word, data, base + f_off)
            if length and offset + length > size:
                raise _truncated(path, f"segment {k} ends at byte {offset + length}", size)


def _truncated(path: Path, what: str, size: int) -> BinaryError:
    return BinaryError(
        f"{path}: truncated or corrupt: {what}, past the end of the file ({size} bytes)",
        "copy or download the binary again",
    )
