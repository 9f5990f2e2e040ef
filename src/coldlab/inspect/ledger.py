"""The byte ledger: every byte of the file assigned to exactly one owner, summing to the file size.

The file is cut into top-level regions (ELF header, program and section header tables, each section's file
bytes, and the gaps between them). Inside a region, owned intervals are clipped so that no byte is claimed
twice (first claim wins, in address order) and what is left goes to the region's default owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from coldlab.inspect.elf import STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_TLS, ElfImage, Section, SymbolTable
from coldlab.inspect.names import CGO, FUNCDATA_PREFIXES, ITAB_PREFIXES, TYPE_PREFIXES, data_package
from coldlab.inspect.pclntab import Pclntab
from coldlab.inspect.typedata import TypeSpans

I64 = npt.NDArray[np.int64]

# ledger kinds (stable strings: they appear in --json output)
CODE = "code"
PADDING = "padding"
PCLNTAB = "pclntab"
PCLNTAB_SHARED = "pclntab shared tables"
TYPES = "type data"
FUNCDATA = "funcdata"
RODATA = "read-only data"
DATA = "data"
DWARF = "DWARF"
SYMTAB = "symbol table"
HEADERS = "headers"
DYNAMIC = "dynamic linking"
BUILDINFO = "build info"
UNATTRIBUTED = "unattributed"

_DATA_KINDS = {
    ".rodata": RODATA,
    ".go.type": TYPES,
    ".data.rel.ro.go.type": TYPES,
    ".typelink": TYPES,
    ".itablink": TYPES,
    ".go.func": FUNCDATA,
    ".data.rel.ro.go.func": FUNCDATA,
    ".noptrdata": DATA,
    ".data": DATA,
    ".data.rel.ro": RODATA,
    ".go.module": DATA,
    ".go.fipsinfo": DATA,
    ".gosymtab": DATA,
    ".go.buildinfo": BUILDINFO,
}
_DYNAMIC_PREFIXES = (
    ".dyn",
    ".rela",
    ".rel.",
    ".hash",
    ".gnu.",
    ".got",
    ".plt",
    ".interp",
    ".init_array",
    ".fini_array",
    ".init",
    ".fini",
    ".eh_frame",
    ".tbss",
    ".tdata",
    ".note.ABI",
)


@dataclass(frozen=True)
class Row:
    section: str
    kind: str
    package: str  # "" when the bytes belong to no Go package
    size: int


@dataclass(frozen=True)
class Ledger:
    file_size: int
    rows: tuple[Row, ...]

    @property
    def total(self) -> int:
        return sum(r.size for r in self.rows)


Claims = tuple[I64, I64, I64]  # (file start, file end, owner id) per claimed interval


@dataclass(frozen=True)
class _Region:
    start: int
    end: int
    sec: Section | None
    name: str


class _Owners:
    def __init__(self) -> None:
        self.keys: list[tuple[str, str, str]] = []
        self._ids: dict[tuple[str, str, str], int] = {}

    def id(self, section: str, kind: str, package: str = "") -> int:
        key = (section, kind, package)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.keys)
            self.keys.append(key)
        return found


class _Builder:
    def __init__(self, size: int) -> None:
        self.owners = _Owners()
        self.totals: dict[int, int] = {}
        self.size = size

    def add(self, owner: int, size: int) -> None:
        if size > 0:
            self.totals[owner] = self.totals.get(owner, 0) + size

    def partition(self, span: tuple[int, int], claims: Claims, default: int) -> None:
        """Charge [start, end): claimed intervals first (clipped, first claim wins), the rest to `default`."""
        start, end = span
        starts, ends, owners = claims
        if end <= start:
            return
        if len(starts):
            s = np.clip(starts, start, end)
            e = np.clip(ends, start, end)
            order = np.argsort(s, kind="stable")
            s, e, o = s[order], e[order], owners[order]
            reach = np.maximum.accumulate(e)
            prev = np.concatenate(([start], reach[:-1]))
            lengths = np.maximum(0, e - np.maximum(s, prev))
            sums = np.bincount(o, weights=lengths)
            for owner in np.flatnonzero(sums):
                self.add(int(owner), int(sums[owner]))
            covered = int(lengths.sum())
        else:
            covered = 0
        self.add(default, end - start - covered)

    def ledger(self) -> Ledger:
        rows = [Row(*self.owners.keys[o], size) for o, size in self.totals.items() if size]
        rows.sort(key=lambda r: (-r.size, r.section, r.kind, r.package))
        return Ledger(self.size, tuple(rows))


@dataclass(frozen=True)
class LedgerInput:
    image: ElfImage
    pcln: Pclntab
    text_base: int
    packages: Sequence[str]  # package of each pclntab function
    symbols: SymbolTable
    types: tuple[int, int] | None  # moduledata types..etypes (VAs), for stripped binaries
    type_spans: TypeSpans | None = None  # type descriptors with their packages (Go 1.27+)


_EMPTY = np.zeros(0, dtype=np.int64)


def build_ledger(inp: LedgerInput) -> Ledger:
    image = inp.image
    b = _Builder(image.size)
    regions: list[_Region] = [
        _Region(*r)
        for r in (
            (0, image.header_size, None, "(ELF header)"),
            (image.phdr_range[0], image.phdr_range[0] + image.phdr_range[1], None, "(program headers)"),
            (image.shdr_range[0], image.shdr_range[0] + image.shdr_range[1], None, "(section headers)"),
        )
    ]
    regions += [
        _Region(s.offset, s.end, s, s.name) for s in image.sections if s.size and s.kind != "SHT_NULL"
    ]
    if inp.pcln.section is None:  # pclntab found by scanning: treat it as a region of its own
        regions.append(
            _Region(inp.pcln.file_offset, inp.pcln.file_offset + inp.pcln.size, None, ".gopclntab")
        )
    regions = [
        _Region(max(0, r.start), min(image.size, r.end), r.sec, r.name)
        for r in regions
        if r.end > r.start and r.start < image.size
    ]
    regions.sort(key=lambda r: (r.start, -r.end))
    pkg_ids = _package_ids(inp.packages)
    cursor = 0
    for region in regions:
        if region.start > cursor:
            b.add(b.owners.id("(gaps)", PADDING), region.start - cursor)
        # overlapping sections: the earlier one keeps the bytes
        clipped = _Region(max(region.start, cursor), region.end, region.sec, region.name)
        if clipped.end <= clipped.start:
            continue
        _charge_region(b, inp, pkg_ids, clipped)
        cursor = clipped.end
    if cursor < image.size:
        b.add(b.owners.id("(gaps)", PADDING), image.size - cursor)
    return b.ledger()


def _package_ids(packages: Sequence[str]) -> tuple[I64, list[str]]:
    names = sorted(set(packages))
    index = {p: i for i, p in enumerate(names)}
    return np.fromiter((index[p] for p in packages), dtype=np.int64, count=len(packages)), names


def _charge_region(b: _Builder, inp: LedgerInput, pkg: tuple[I64, list[str]], region: _Region) -> None:
    pcln = inp.pcln
    start, end, sec, name = region.start, region.end, region.sec, region.name
    if (sec is None and name.startswith("(")) or name in (".shstrtab",) or name.startswith(".note"):
        b.add(b.owners.id(name, HEADERS), end - start)
    elif start <= pcln.file_offset < end and (sec is None or sec is pcln.section):
        _charge_pclntab(b, pcln, pkg, region)
    elif name.startswith((".plt", ".init", ".fini")):  # C start-up code and PLT stubs (cgo, PIE)
        b.add(b.owners.id(name, DYNAMIC), end - start)
    elif sec is not None and sec.flags & 0x4:  # SHF_EXECINSTR
        _charge_text(b, inp, pkg, region)
    elif name.startswith((".debug_", ".zdebug_")):
        b.add(b.owners.id(name, DWARF), end - start)
    elif name in (".symtab", ".strtab"):
        b.add(b.owners.id(name, SYMTAB), end - start)
    elif name in _DATA_KINDS:
        _charge_data(b, inp, region, _DATA_KINDS[name])
    elif name.startswith(_DYNAMIC_PREFIXES):
        b.add(b.owners.id(name, DYNAMIC), end - start)
    else:
        b.add(b.owners.id(name, UNATTRIBUTED), end - start)


def _charge_text(b: _Builder, inp: LedgerInput, pkg: tuple[I64, list[str]], region: _Region) -> None:
    pcln, (ids, names) = inp.pcln, pkg
    sec = region.sec
    assert sec is not None  # only sections reach here (a type guard, not input validation)
    to_file = sec.offset - sec.addr  # file offset = va + to_file inside this section
    f_start = inp.text_base + pcln.entry + to_file
    no_table = pcln.code_size == 0  # C functions without pc tables: the whole span is theirs
    code = np.where(no_table, pcln.span, pcln.code_size)
    code_owner = np.array([b.owners.id(sec.name, CODE, p) for p in names], dtype=np.int64)[ids]
    pad_owner = b.owners.id(sec.name, PADDING)
    starts = [f_start, f_start + code]
    ends = [f_start + code, f_start + pcln.span]
    owners = [code_owner, np.full(len(code), pad_owner, dtype=np.int64)]
    # bytes the pclntab does not describe (C code under external linking): the symbol table can name them
    syms = inp.symbols.select(sec.addr, sec.addr + sec.size, (STT_FUNC,))
    if len(syms):
        starts.append(inp.symbols.value[syms] + to_file)
        ends.append(inp.symbols.value[syms] + inp.symbols.size[syms] + to_file)
        owners.append(np.full(len(syms), b.owners.id(sec.name, CODE, CGO), dtype=np.int64))
    claims = (np.concatenate(starts), np.concatenate(ends), np.concatenate(owners))
    b.partition((region.start, region.end), claims, b.owners.id(sec.name, UNATTRIBUTED))


def _charge_pclntab(b: _Builder, pcln: Pclntab, pkg: tuple[I64, list[str]], region: _Region) -> None:
    ids, names = pkg
    start, end, name = region.start, region.end, region.name
    base = pcln.file_offset
    if base > start:  # bytes of the section before the header (never seen in practice)
        b.add(b.owners.id(name, UNATTRIBUTED), base - start)
    per_pkg = np.array([b.owners.id(name, PCLNTAB, p) for p in names], dtype=np.int64)[ids]
    by_region = {r.name: r for r in pcln.regions}
    default = b.owners.id(name, PCLNTAB_SHARED, "")
    for sub in pcln.regions:
        span = (max(start, base + sub.start), min(end, base + sub.end))
        claims: Claims = (_EMPTY, _EMPTY, _EMPTY)
        if sub.name == "function names":
            s = base + sub.start + pcln.name_off
            claims = (s, s + pcln.name_len, per_pkg)
        elif sub.name == "function records":
            s = base + by_region["function table"].start + pcln.record_off
            claims = (s, s + pcln.record_size, per_pkg)
        elif sub.name == "pc-value tables":
            t_start, t_end, owners = _table_owners(pcln, (ids, len(names)), per_pkg, default)
            claims = (t_start + base + sub.start, t_end + base + sub.start, owners)
        b.partition(span, claims, default)
    tail = base + pcln.regions[-1].end
    if tail < end:
        b.add(b.owners.id(name, PCLNTAB_SHARED), end - tail)


def _table_owners(pcln: Pclntab, pkg: tuple[I64, int], per_pkg: I64, shared: int) -> Claims:
    """Each pc-value table goes to its package when only one package's functions use it, else to shared."""
    ids, n_packages = pkg
    funcs, offsets = pcln.table_refs
    starts = pcln.table_starts
    pc_region = next(r for r in pcln.regions if r.name == "pc-value tables")
    ends = np.append(starts[1:], pc_region.end - pc_region.start)
    k = np.searchsorted(starts, offsets)
    lo = np.full(len(starts), n_packages, dtype=np.int64)
    hi = np.full(len(starts), -1, dtype=np.int64)
    np.minimum.at(lo, k, ids[funcs])
    np.maximum.at(hi, k, ids[funcs])
    first_func = np.full(len(starts), -1, dtype=np.int64)
    first_func[k[::-1]] = funcs[::-1]
    owners = np.where((lo == hi) & (first_func >= 0), per_pkg[np.maximum(first_func, 0)], shared)
    return starts, ends, owners


def _charge_data(b: _Builder, inp: LedgerInput, region: _Region, kind: str) -> None:
    start, end, sec, name = region.start, region.end, region.sec, region.name
    if sec is None:
        b.add(b.owners.id(name, kind), end - start)
        return
    to_file = sec.offset - sec.addr
    lo, hi = sec.addr, sec.addr + sec.size
    starts, ends, symbols = _data_symbols(inp.symbols, lo, hi)
    starts, ends = starts + to_file, ends + to_file
    kinds = [_symbol_kind(sym, kind) for sym in symbols]
    owners = np.fromiter(
        (b.owners.id(name, k, data_package(sym)) for sym, k in zip(symbols, kinds, strict=True)),
        dtype=np.int64,
        count=len(symbols),
    )
    spans = inp.type_spans
    if spans and kind in (TYPES, RODATA) and lo <= spans.starts[0] < hi:
        keep = [i for i, p in enumerate(spans.packages) if p]
        starts = np.append(starts, np.array([spans.starts[i] + to_file for i in keep], dtype=np.int64))
        ends = np.append(ends, np.array([spans.ends[i] + to_file for i in keep], dtype=np.int64))
        ids = np.array([b.owners.id(name, TYPES, spans.packages[i]) for i in keep], dtype=np.int64)
        owners = np.append(owners, ids)
    elif inp.types is not None and kind == RODATA and TYPES not in kinds and _tells_apart(inp.types, lo, hi):
        # stripped: moduledata's types..etypes still tells type descriptors apart from other rodata (with
        # symbols, the type carrier symbol is exact)
        t0, t1 = inp.types
        starts = np.append(starts, t0 + to_file)
        ends = np.append(ends, min(t1, hi) + to_file)
        owners = np.append(owners, b.owners.id(name, TYPES))
    b.partition((start, end), (starts, ends, owners), b.owners.id(name, kind, ""))


def _tells_apart(types: tuple[int, int], lo: int, hi: int) -> bool:
    """Whether types..etypes starts in [lo, hi) and is only part of it (before Go 1.20 it spans all of
    .rodata, so it says nothing about which bytes are type data)."""
    t0, t1 = types
    return lo <= t0 < hi and (t0 > lo or t1 < hi)


def _data_symbols(table: SymbolTable, lo: int, hi: int) -> tuple[I64, I64, list[str]]:
    """Data symbols with a value in [lo, hi): start and end VAs, names. Before Go 1.20 the carrier symbols
    (`type.*`, `go.string.*`, ...) have size 0: each then spans up to the next symbol that starts after it."""
    kinds = (STT_OBJECT, STT_NOTYPE, STT_TLS)
    sized, empty = table.select(lo, hi, kinds), table.select(lo, hi, kinds, sized=False)
    starts = table.value[sized]
    ends = starts + table.size[sized]
    names = [table.name(i) for i in sized.tolist()]
    carriers = [i for i in empty.tolist() if table.name(i).endswith(".*")]
    if carriers:
        at = table.value[carriers]
        distinct = np.unique(np.concatenate((starts, table.value[empty])))
        after = np.searchsorted(distinct, at, side="right")
        reach = np.where(after < len(distinct), distinct[np.minimum(after, len(distinct) - 1)], hi)
        starts, ends = np.concatenate((starts, at)), np.concatenate((ends, reach))
        names += [table.name(i) for i in carriers]
    return starts, ends, names


def _symbol_kind(symbol: str, section_kind: str) -> str:
    """Type descriptors and itabs sit in .rodata before Go 1.26-1.27 gave them sections of their own."""
    if symbol.startswith((*TYPE_PREFIXES, *ITAB_PREFIXES)) and not symbol.startswith("type.."):
        return TYPES
    if symbol.startswith(FUNCDATA_PREFIXES):
        return FUNCDATA
    return section_kind
