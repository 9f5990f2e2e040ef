"""ELF reading with pyelftools: sections, segments, dynamic linking facts, and virtual-address reads.

A file on disk is mapped (mmap), never read whole: the parsers take views into the mapping, so only the pages
they touch (pclntab, type data, symbols, build info, moduledata) become resident. Code and DWARF are never
read, only sized from the section headers; the deflate pass streams the file through a small buffer
(`chunks`) instead of faulting it into the mapping. Contents already in memory (`bytes`) work the same way.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
from elftools.elf.elffile import ELFFile

from coldlab import regular_file
from coldlab.inspect.elfshape import check_length, check_magic
from coldlab.inspect.errors import BinaryError, corrupt

_MACHINES = {"EM_X86_64": "amd64", "EM_AARCH64": "arm64", "EM_386": "386", "EM_ARM": "arm"}
_SUPPORTED = {"amd64", "arm64"}
SHT_NOBITS = "SHT_NOBITS"


@dataclass(frozen=True)
class Section:
    name: str
    kind: str  # sh_type as pyelftools names it
    offset: int
    size: int  # bytes in the file (0 for NOBITS)
    addr: int
    mem_size: int
    flags: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Segment:
    kind: str
    offset: int
    file_size: int
    vaddr: int
    mem_size: int
    flags: int


STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_TLS = 0, 1, 2, 6


Buffer = bytes | mmap.mmap  # the file's contents: in memory, or mapped read-only


@dataclass(frozen=True)
class SymbolTable:
    """ELF symbols as parallel arrays (a Go binary has 100k+ of them; Python objects would be slow).

    Names stay in the file's buffer (strtab[strtab_start:strtab_end]), not copied: decoded on demand.
    """

    name_off: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]  # STT_*
    value: npt.NDArray[np.int64]
    size: npt.NDArray[np.int64]
    strtab: Buffer
    strtab_start: int = 0
    strtab_end: int = 0

    @classmethod
    def empty(cls) -> SymbolTable:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, b"")

    def __len__(self) -> int:
        return len(self.value)

    def name(self, i: int) -> str:
        off = self.strtab_start + int(self.name_off[i])
        if off >= self.strtab_end:
            return ""
        stop = self.strtab.find(b"\0", off, self.strtab_end)
        return self.strtab[off : stop if stop >= 0 else self.strtab_end].decode("utf-8", "replace")

    def select(
        self, lo: int, hi: int, kinds: tuple[int, ...], *, sized: bool = True
    ) -> npt.NDArray[np.int64]:
        """Indices of sized (sized=False: size-0) symbols of the given kinds with a value in [lo, hi)."""
        has_size = self.size > 0 if sized else self.size == 0
        mask = has_size & (self.value >= lo) & (self.value < hi) & np.isin(self.kind, kinds)
        return np.flatnonzero(mask)

    def lookup(self, name: str) -> int | None:
        """Value of the first symbol called `name` (a linear scan of the string table: rare use only)."""
        needle = b"\0" + name.encode() + b"\0"
        pos = self.strtab.find(needle, self.strtab_start, self.strtab_end)
        while pos >= 0:
            hits = np.flatnonzero(self.name_off == pos + 1 - self.strtab_start)
            if len(hits):
                return int(self.value[hits[0]])
            pos = self.strtab.find(needle, pos + 1, self.strtab_end)
        return None


def open_regular(path: Path) -> int:
    """A read-only descriptor of `path` if it is a regular file; BinaryError otherwise (FIFOs refused)."""
    try:
        return regular_file.open_regular(path)
    except regular_file.NotRegularFile as exc:
        raise BinaryError(
            f"{path}: is a {exc.kind}, not a regular file",
            "pass the binary itself, a file on disk such as path/to/bootstrap",
        ) from None
    except OSError as exc:
        raise BinaryError(
            f"{path}: cannot be read ({exc.strerror})", "check the path and its permissions"
        ) from exc


CHUNK = 1 << 20  # bytes per read of the streaming pass: bounds its memory to a few MiB


class ElfImage:
    """An ELF executable, mapped or in memory. Raises BinaryError for anything but a readable ELF file.

    `fd`, when given, is an open descriptor of the same file: headers are parsed and `chunks` read through it,
    so those bytes never enter the mapping. The image owns it; `close` releases it (and the mapping).
    """

    def __init__(self, path: Path, data: Buffer, fd: int | None = None) -> None:
        self.path = path
        self.data = data
        self.size = len(data)
        self._fd = fd
        check_magic(path, data)
        check_length(path, data)
        stream: IO[bytes] = (
            io.BytesIO(data) if fd is None else open(fd, "rb", buffering=1 << 16, closefd=False)  # noqa: SIM115
        )
        try:
            elf = ELFFile(stream)
            self.little_endian: bool = elf.little_endian
            self.ptr_size: int = elf.elfclass // 8
            self.elf_type: str = str(elf["e_type"])
            self.machine: str = _MACHINES.get(str(elf["e_machine"]), str(elf["e_machine"]))
            self.header_size: int = int(elf["e_ehsize"])
            self.phdr_range = (int(elf["e_phoff"]), int(elf["e_phnum"]) * int(elf["e_phentsize"]))
            self.shdr_range = (int(elf["e_shoff"]), int(elf["e_shnum"]) * int(elf["e_shentsize"]))
            self.sections = tuple(_sections(elf))
            self.segments = tuple(_segments(elf))
            self.interpreter = _interpreter(elf, data)
            self.needed = tuple(_needed(elf))
        except BinaryError:
            raise
        except Exception as exc:
            raise corrupt(path, f"the ELF headers are damaged ({type(exc).__name__}: {exc})") from exc
        finally:
            stream.close()
        if self.machine not in _SUPPORTED:
            raise BinaryError(
                f"{path}: an ELF file for {self.machine}, not amd64 or arm64",
                "coldlab inspects Lambda bootstraps built for linux/amd64 or linux/arm64",
            )
        self._by_name = {s.name: s for s in self.sections}

    @classmethod
    def open(cls, path: Path) -> ElfImage:
        if not path.exists():
            raise BinaryError(
                f"{path}: no such file", "pass the path of a Go executable (a Lambda bootstrap)"
            )
        if path.is_dir():
            raise BinaryError(
                f"{path}: is a directory, expected a Go executable",
                "pass the binary itself, e.g. path/to/bootstrap",
            )
        fd = open_regular(path)
        try:
            size = os.fstat(fd).st_size
            # mmap cannot map an empty file; such a file fails the magic check right away
            data: Buffer = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else b""
            return cls(path, data, fd)
        except OSError as exc:
            os.close(fd)
            raise BinaryError(
                f"{path}: cannot be read ({exc.strerror})", "check the path and its permissions"
            ) from exc
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        """Release the descriptor and the mapping (a mapping still viewed by an array is left to the GC)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if isinstance(self.data, mmap.mmap):
            with contextlib.suppress(BufferError):
                self.data.close()

    def release(self, start: int, end: int) -> None:
        """Done with bytes [start, end): unmap their pages from this process (a later read maps them again).

        Keeps the resident set to the tables still in use. Only whole pages inside the range are dropped.
        """
        if not isinstance(self.data, mmap.mmap) or self.data.closed:
            return
        lo = -(-max(0, start) // mmap.PAGESIZE) * mmap.PAGESIZE
        hi = min(end, self.size) // mmap.PAGESIZE * mmap.PAGESIZE
        if hi > lo:
            self.data.madvise(mmap.MADV_DONTNEED, lo, hi - lo)

    def __enter__(self) -> ElfImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunks(self, start: int, stop: int, size: int = CHUNK) -> Iterator[memoryview]:
        """The bytes [start, stop) in pieces of at most `size`, read through the descriptor when there is one.

        Each piece is only valid until the next is produced (one buffer is reused). Reading with pread keeps
        a whole-file pass (the zipped size) out of this process's resident memory.
        """
        if self._fd is None:
            view = memoryview(self.data)
            for i in range(start, stop, size):
                yield view[i : min(i + size, stop)]
            return
        buf = bytearray(size)
        view = memoryview(buf)
        pos = start
        while pos < stop:
            n = os.preadv(self._fd, [view[: min(size, stop - pos)]], pos)
            if n <= 0:
                raise corrupt(self.path, f"the file shrank while being read (at byte {pos})")
            yield view[:n]
            pos += n

    def section(self, *names: str) -> Section | None:
        for name in names:
            found = self._by_name.get(name)
            if found is not None:
                return found
        return None

    def section_bytes(self, section: Section) -> memoryview:
        if section.end > self.size:
            raise corrupt(self.path, f"section {section.name} runs past the end of the file (truncated?)")
        return memoryview(self.data)[section.offset : section.end]

    def va_to_offset(self, va: int) -> int | None:
        """The file offset of virtual address `va`, or None when it is not backed by file bytes."""
        for seg in self.segments:
            if seg.kind == "PT_LOAD" and seg.vaddr <= va < seg.vaddr + seg.file_size:
                return seg.offset + (va - seg.vaddr)
        return None

    def read_va(self, va: int, size: int) -> bytes:
        off = self.va_to_offset(va)
        if off is None or off + size > self.size or size < 0:
            raise corrupt(self.path, f"address {va:#x} (+{size}) is outside the file's loaded segments")
        return self.data[off : off + size]

    def word(self, va: int) -> int:
        fmt = ("<" if self.little_endian else ">") + ("Q" if self.ptr_size == 8 else "I")
        value: int = struct.unpack(fmt, self.read_va(va, self.ptr_size))[0]
        return value

    def symbols(self) -> SymbolTable:
        """The static symbol table (.symtab); empty when stripped. Names are decoded on demand."""
        symtab = self.section(".symtab")
        strtab = self.section(".strtab")
        if symtab is None or strtab is None or self.ptr_size != 8 or symtab.size < 24:
            return SymbolTable.empty()
        count = symtab.size // 24
        if symtab.offset + count * 24 > self.size or strtab.end > self.size:
            return SymbolTable.empty()
        order = "<" if self.little_endian else ">"
        dtype = np.dtype(
            [
                ("name", order + "u4"),
                ("info", "u1"),
                ("other", "u1"),
                ("shndx", order + "u2"),
                ("value", order + "u8"),
                ("size", order + "u8"),
            ]
        )
        raw = np.frombuffer(self.data, dtype=dtype, count=count, offset=symtab.offset)
        return SymbolTable(
            raw["name"].astype(np.int64),
            (raw["info"] & 0xF).astype(np.int64),
            raw["value"].astype(np.int64),
            raw["size"].astype(np.int64),
            self.data,
            strtab.offset,
            strtab.end,
        )


def _sections(elf: ELFFile) -> list[Section]:
    out = []
    for sec in elf.iter_sections():
        kind = str(sec["sh_type"])
        file_size = 0 if kind == SHT_NOBITS else int(sec["sh_size"])
        out.append(
            Section(
                sec.name,
                kind,
                int(sec["sh_offset"]),
                file_size,
                int(sec["sh_addr"]),
                int(sec["sh_size"]),
                int(sec["sh_flags"]),
            )
        )
    return out


def _segments(elf: ELFFile) -> list[Segment]:
    return [
        Segment(
            str(seg["p_type"]),
            int(seg["p_offset"]),
            int(seg["p_filesz"]),
            int(seg["p_vaddr"]),
            int(seg["p_memsz"]),
            int(seg["p_flags"]),
        )
        for seg in elf.iter_segments()
    ]


def _interpreter(elf: ELFFile, data: Buffer) -> str | None:
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_INTERP":
            raw = data[seg["p_offset"] : seg["p_offset"] + seg["p_filesz"]]
            return raw.rstrip(b"\0").decode("utf-8", "replace")
    return None


def _needed(elf: ELFFile) -> list[str]:
    dyn = elf.get_section_by_name(".dynamic")
    if dyn is None or not hasattr(dyn, "iter_tags"):
        return []
    return [str(tag.needed) for tag in dyn.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]
