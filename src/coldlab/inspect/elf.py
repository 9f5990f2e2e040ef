"""ELF reading with pyelftools: sections, segments, dynamic linking facts, and virtual-address reads.

The whole file is held as one `bytes` object; every table parser below takes views into it (no copies).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from elftools.elf.elffile import ELFFile

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


@dataclass(frozen=True)
class SymbolTable:
    """ELF symbols as parallel arrays (a Go binary has 100k+ of them; Python objects would be slow)."""

    name_off: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int64]  # STT_*
    value: npt.NDArray[np.int64]
    size: npt.NDArray[np.int64]
    strtab: bytes

    @classmethod
    def empty(cls) -> SymbolTable:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, b"")

    def __len__(self) -> int:
        return len(self.value)

    def name(self, i: int) -> str:
        off = int(self.name_off[i])
        stop = self.strtab.find(b"\0", off)
        return self.strtab[off : stop if stop >= 0 else len(self.strtab)].decode("utf-8", "replace")

    def select(self, lo: int, hi: int, kinds: tuple[int, ...]) -> npt.NDArray[np.int64]:
        """Indices of sized symbols of the given kinds with a value in [lo, hi)."""
        mask = (self.size > 0) & (self.value >= lo) & (self.value < hi) & np.isin(self.kind, kinds)
        return np.flatnonzero(mask)

    def lookup(self, name: str) -> int | None:
        """Value of the first symbol called `name` (a linear scan of the string table: rare use only)."""
        needle = b"\0" + name.encode() + b"\0"
        pos = self.strtab.find(needle)
        while pos >= 0:
            hits = np.flatnonzero(self.name_off == pos + 1)
            if len(hits):
                return int(self.value[hits[0]])
            pos = self.strtab.find(needle, pos + 1)
        return None


class ElfImage:
    """An ELF executable in memory. Raises BinaryError for anything that is not a readable ELF file."""

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        self.data = data
        self.size = len(data)
        _check_magic(path, data)
        _check_length(path, data)
        try:
            elf = ELFFile(io.BytesIO(data))
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
        needed_size = max(
            [s.end for s in self.sections if s.size]
            + [g.offset + g.file_size for g in self.segments if g.file_size]
        )
        if needed_size > self.size:
            raise BinaryError(
                f"{path}: truncated or corrupt: its ELF headers point to byte {needed_size}, "
                f"past the end of the file ({self.size} bytes)",
                "copy or download the binary again",
            )
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
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BinaryError(
                f"{path}: cannot be read ({exc.strerror})", "check the path and its permissions"
            ) from exc
        return cls(path, data)

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
            self.data[strtab.offset : strtab.end],
        )


def _check_magic(path: Path, data: bytes) -> None:
    head = data[:4]
    if head == b"\x7fELF":
        if len(data) < 64:
            raise corrupt(path, f"only {len(data)} bytes, too short for an ELF header (truncated?)")
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


def _check_length(path: Path, data: bytes) -> None:
    """A truncated file usually loses its section header table first (it sits at the end)."""
    if data[4] != 2:  # ELFCLASS64; 32-bit files are refused later by machine
        return
    end = "<" if data[5] == 1 else ">"
    (shoff,) = struct.unpack_from(end + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    if shoff + shentsize * shnum > len(data):
        raise BinaryError(
            f"{path}: truncated or corrupt: the section header table ends at byte "
            f"{shoff + shentsize * shnum}, past the end of the file ({len(data)} bytes)",
            "copy or download the binary again",
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


def _interpreter(elf: ELFFile, data: bytes) -> str | None:
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
