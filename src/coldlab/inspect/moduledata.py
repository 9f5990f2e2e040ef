"""runtime.moduledata: the text base that pclntab offsets are relative to, type data and init tasks.

Found without symbols by scanning data for a pointer to the pclntab (its first field) and validating the
slices that follow (GoReSym's approach). Offsets of the first fields are the same from Go 1.18 to 1.27;
later ones are version-gated and validated before use.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from coldlab.inspect.elf import ElfImage
from coldlab.inspect.pclntab import Pclntab

_TEXT, _ETEXT = 176, 184
_TYPEDESCLEN = 304  # Go 1.27: types, typedesclen, etypes
# (types, etypes) per Go minor version: 1.18-1.19 / 1.20-1.26 / 1.27 (typedesclen between them)
_TYPES = {18: (280, 288), 19: (280, 288), 27: (296, 312)}
_TYPES_DEFAULT = (296, 304)
# the inittasks slice exists from Go 1.21 (offsets checked against the go1.21.13, 1.23.9, 1.25.5, 1.26.6
# and 1.27.3 sources: 1.26 added epclntab, 1.27 dropped typelinks/itablinks); candidates are validated.
# Before 1.21 the tasks are a graph reached through symbols (_legacy_init_tasks).
_INITTASKS = {21: (464,), 22: (464,), 23: (464,), 24: (464,), 25: (464,), 26: (472,), 27: (448,)}
_INITTASKS_LATER = (448, 472, 464)
_MAX_TASKS = 100_000
_MAX_FNS = 10_000


@dataclass(frozen=True)
class InitTask:
    """One package's init work as the runtime runs it: the PCs of its init functions, in order."""

    pcs: tuple[int, ...]


@dataclass(frozen=True)
class ModuleData:
    va: int | None  # None when not found (then text comes from a symbol or the .text section)
    text: int
    etext: int
    types: tuple[int, int] | None
    typedesclen: int | None  # Go 1.27+: bytes of walkable type descriptors from `types`
    init_tasks: tuple[InitTask, ...] | None  # None when unavailable (not found; stripped and Go < 1.21)
    text_source: str


def read_moduledata(image: ElfImage, pcln: Pclntab, go_minor: int) -> ModuleData:
    va = _find(image, pcln)
    if va is not None:
        text, etext = image.word(va + _TEXT), image.word(va + _ETEXT)
        types = _types(image, va, go_minor)
        tasks = _init_tasks(image, va, go_minor, text, etext)
        desc = image.word(va + _TYPEDESCLEN) if go_minor >= 27 and types is not None else None
        if desc is not None and types is not None and not 0 < desc <= types[1] - types[0]:
            desc = None
        return ModuleData(va, text, etext, types, desc, tasks, "moduledata")
    table = image.symbols()
    text_sym = table.lookup("runtime.text")
    if text_sym is not None:
        etext = table.lookup("runtime.etext") or 0
        return ModuleData(None, text_sym, etext, None, None, None, "runtime.text symbol")
    sec = image.section(".text")
    start = sec.addr if sec is not None else 0
    return ModuleData(
        None, start, start + pcln.end_offset(), None, None, None, ".text section (moduledata not found)"
    )


def _find(image: ElfImage, pcln: Pclntab) -> int | None:
    if pcln.va == 0:
        return None
    needle = struct.pack("<Q", pcln.va)
    name_off = struct.unpack_from("<Q", image.data, pcln.file_offset + 32)[0]
    names = [".go.module", ".noptrdata", ".data", ".data.rel.ro"]
    ranges = [(s.offset, s.end) for n in names if (s := image.section(n)) is not None and s.size]
    if not ranges:
        ranges = [
            (g.offset, g.offset + g.file_size)
            for g in image.segments
            if g.kind == "PT_LOAD" and g.flags & 0x2
        ]
    for start, stop in ranges:
        pos = image.data.find(needle, start, stop)
        while pos >= 0:
            if pos % 8 == 0 and pos + 200 <= image.size:
                funcnametab = struct.unpack_from("<Q", image.data, pos + 8)[0]
                if funcnametab == pcln.va + name_off:
                    return _va_of(image, pos)
            pos = image.data.find(needle, pos + 1, stop)
    return None


def _va_of(image: ElfImage, offset: int) -> int | None:
    for seg in image.segments:
        if seg.kind == "PT_LOAD" and seg.offset <= offset < seg.offset + seg.file_size:
            return seg.vaddr + offset - seg.offset
    return None


def _types(image: ElfImage, va: int, minor: int) -> tuple[int, int] | None:
    lo, hi = _TYPES.get(minor, _TYPES_DEFAULT)
    start, end = image.word(va + lo), image.word(va + hi)
    if 0 < start <= end and image.va_to_offset(start) is not None:
        return start, end
    return None


def _init_tasks(image: ElfImage, va: int, minor: int, text: int, etext: int) -> tuple[InitTask, ...] | None:
    if minor < 21:
        return _legacy_init_tasks(image, text, etext)
    for off in _INITTASKS.get(minor, _INITTASKS_LATER):
        tasks = _read_tasks(image, va + off, text, etext)
        if tasks is not None:
            return tasks
    return None


def _legacy_init_tasks(image: ElfImage, text: int, etext: int) -> tuple[InitTask, ...] | None:
    """Go 1.13-1.20: initTask{state, ndeps, nfns, deps[ndeps], fns[nfns]} form a graph rooted at
    runtime..inittask and main..inittask, which the runtime walks depth first, a package's dependencies
    before its own functions (doInit). The roots are symbols, so a stripped binary gives None."""
    table = image.symbols()
    main = table.lookup("main..inittask")
    if main is None:
        return None
    roots = [root for root in (table.lookup("runtime..inittask"), main) if root is not None]
    order: list[InitTask] = []
    seen: set[int] = set()
    try:
        for root in roots:
            stack = [(root, False)]
            while stack:
                task, deps_done = stack.pop()
                ndeps, nfns = image.word(task + 8), image.word(task + 16)
                if deps_done:
                    pcs = tuple(image.word(task + 24 + 8 * (ndeps + i)) for i in range(nfns))
                    if any(not text <= pc < etext for pc in pcs):
                        return None
                    if pcs:
                        order.append(InitTask(pcs))
                    continue
                if task in seen:
                    continue
                seen.add(task)
                if image.word(task) > 2 or ndeps > _MAX_TASKS or nfns > _MAX_FNS or len(seen) > _MAX_TASKS:
                    return None
                stack.append((task, True))
                stack.extend((image.word(task + 24 + 8 * i), False) for i in reversed(range(ndeps)))
        return tuple(order)
    except Exception:  # noqa: BLE001 - words that do not read as init tasks mean: not recoverable
        return None


def _read_tasks(image: ElfImage, slice_va: int, text: int, etext: int) -> tuple[InitTask, ...] | None:
    """Validate and read a `[]*initTask` slice; None if the words there are not one."""
    try:
        ptr, length, cap_ = (image.word(slice_va + 8 * i) for i in range(3))
        if length > cap_ or length > _MAX_TASKS or (length and image.va_to_offset(ptr) is None):
            return None
        tasks = []
        for i in range(length):
            task = image.word(ptr + 8 * i)
            head = image.read_va(task, 8)
            state, nfns = struct.unpack("<II", head)
            if state > 2 or nfns > _MAX_FNS:
                return None
            pcs = struct.unpack(f"<{nfns}Q", image.read_va(task + 8, 8 * nfns))
            if any(not text <= pc < etext for pc in pcs):
                return None
            tasks.append(InitTask(pcs))
        return tuple(tasks)
    except Exception:  # noqa: BLE001 - a candidate that does not read as a slice is simply rejected
        return None
