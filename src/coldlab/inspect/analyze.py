"""`inspect_binary`: read a Go executable and build the full report. Only BinaryError escapes."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from coldlab.inspect.buildinfo import read_buildinfo
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.errors import BinaryError, corrupt
from coldlab.inspect.facts import build_facts
from coldlab.inspect.findings import find
from coldlab.inspect.ledger import Ledger, LedgerInput, build_ledger
from coldlab.inspect.model import Function, InitPackage, Report, Size
from coldlab.inspect.moduledata import ModuleData, read_moduledata
from coldlab.inspect.names import ModuleMap, package_of
from coldlab.inspect.pclntab import Pclntab, read_pclntab
from coldlab.inspect.typedata import walk_types

MIN_MINOR, MAX_MINOR = 18, 27
ZIP_LEVEL = (
    1  # fast deflate: several times quicker than zip's default 6, typically a few % larger (safe side)
)


SPLIT_AT = 16 << 20  # files this big are deflated as two independent halves, on two threads


def deflated_size(pieces: Iterable[memoryview], level: int = ZIP_LEVEL) -> int:
    """Size of the raw deflate stream of the pieces (zip entry payload, headers excluded). Only the length
    is kept: each piece of output is dropped as soon as it is counted."""
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    size = 0
    for piece in pieces:
        size += len(comp.compress(piece))
    return size + len(comp.flush())


def _deflate_parts(pool: ThreadPoolExecutor, image: ElfImage) -> list[Future[int]]:
    # Two halves lose only the 32 KiB window at the seam (well under 0.01% here); a fixed split keeps
    # the figure the same on every machine. Each half streams through its own small buffer.
    if image.size < SPLIT_AT:
        return [pool.submit(lambda: deflated_size(image.chunks(0, image.size)))]
    half = image.size // 2
    return [
        pool.submit(lambda: deflated_size(image.chunks(0, half))),
        pool.submit(lambda: deflated_size(image.chunks(half, image.size))),
    ]


def inspect_binary(path: Path, top: int = 40) -> Report:
    """Inspect the file at `path`. Raises BinaryError (exit 2) for anything but a readable Go binary."""
    return _guarded(path, lambda: ElfImage.open(path), top)


def inspect_bytes(path: Path, data: bytes, top: int = 40) -> Report:
    """Inspect file contents already in memory (`path` only names it in messages)."""
    return _guarded(path, lambda: ElfImage(path, data), top)


def _guarded(path: Path, load: Callable[[], ElfImage], top: int) -> Report:
    try:
        with load() as image, ThreadPoolExecutor(max_workers=2) as pool:
            # zlib and pread release the GIL: the deflate pass runs beside the parsing
            parts = _deflate_parts(pool, image)
            report, names, packages, code = _inspect(image, top)
            report = replace(report, zipped_size=sum(p.result() for p in parts))
            return replace(report, findings=find(report, names, packages, code))
    except BinaryError:
        raise
    except Exception as exc:
        raise corrupt(path, f"unreadable Go metadata ({type(exc).__name__}: {str(exc)[:80]})") from exc


def _inspect(image: ElfImage, top: int) -> tuple[Report, tuple[str, ...], list[str], list[int]]:
    """The report without zipped size and findings, plus each function's name and package."""
    info = read_buildinfo(image)
    if info.minor < MIN_MINOR:
        raise BinaryError(
            f"{image.path}: built by {info.go_version}; coldlab supports Go 1.18 through 1.27",
            "rebuild with a supported Go release",
        )
    pcln = read_pclntab(image, info.minor)
    md = read_moduledata(image, pcln, info.minor)
    image.release(pcln.file_offset, pcln.file_offset + pcln.size)  # everything needed is in `pcln` now
    symbols = image.symbols()
    packages = _packages(pcln.names)
    spans = None
    if md.types and md.typedesclen:
        spans = walk_types(image, md.types[0], md.typedesclen, md.types[1])
        types_at = image.va_to_offset(md.types[0])
        if types_at is not None:
            image.release(types_at, types_at + (md.types[1] - md.types[0]))
    ledger = build_ledger(LedgerInput(image, pcln, md.text, packages, symbols, md.types, spans))
    if ledger.total != image.size:  # an invariant of the construction; never expected
        raise corrupt(image.path, f"internal: ledger sums to {ledger.total} bytes, file has {image.size}")
    modmap = ModuleMap(info)
    pkg_set = set(packages)
    facts = build_facts(image, info, pkg_set, pcln.files, frozenset(pcln.names))
    if info.minor > MAX_MINOR:
        note = f"{info.go_version} is newer than Go 1.{MAX_MINOR}: read with the Go 1.{MAX_MINOR} layouts"
        facts = replace(facts, notes=(*facts.notes, note))
    if md.va is None:
        facts = replace(facts, notes=(*facts.notes, f"text base from {md.text_source}"))
    pkgs, mods, secs = _rollups(ledger, modmap)
    functions = _top_functions(pcln, packages, md.text, top)
    init = _init_inventory(pcln, md, packages, modmap)
    report = Report(
        path=str(image.path),
        file_size=image.size,
        zipped_size=0,
        facts=facts,
        ledger=ledger.rows,
        modules=mods,
        packages=pkgs,
        sections=secs,
        functions=functions,
        function_count=len(pcln.names),
        init_packages=init,
        findings=(),
    )
    code = np.where(pcln.code_size == 0, pcln.span, pcln.code_size).tolist()
    return report, pcln.names, packages, code


def _packages(names: Sequence[str]) -> list[str]:
    """The package of each function, one string object per package (29k names share a few hundred)."""
    by_name: dict[str, str] = {}
    interned: dict[str, str] = {}
    out = []
    for name in names:
        pkg = by_name.get(name)
        if pkg is None:
            pkg = package_of(name)
            pkg = by_name[name] = interned.setdefault(pkg, pkg)
        out.append(pkg)
    return out


def _rollups(
    ledger: Ledger, modmap: ModuleMap
) -> tuple[tuple[Size, ...], tuple[Size, ...], tuple[Size, ...]]:
    pkg: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    mod: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sec: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in ledger.rows:
        sec[row.section][row.kind] += row.size
        if row.package:
            pkg[row.package][row.kind] += row.size
            mod[modmap.module_of(row.package).module][row.kind] += row.size
        else:
            mod[f"({row.kind})"][row.kind] += row.size

    def sizes(table: dict[str, dict[str, int]], with_module: bool = False) -> tuple[Size, ...]:
        out = [
            Size(name, sum(d.values()), modmap.module_of(name).module if with_module else "", dict(d))
            for name, d in table.items()
        ]
        return tuple(sorted(out, key=lambda s: (-s.size, s.name)))

    return sizes(pkg, True), sizes(mod), sizes(sec)


def _top_functions(pcln: Pclntab, packages: list[str], text: int, top: int) -> tuple[Function, ...]:
    size = np.where(pcln.code_size == 0, pcln.span, pcln.code_size)
    order = np.argsort(-size, kind="stable")[:top]
    return tuple(
        Function(pcln.names[i], packages[i], text + int(pcln.entry[i]), int(size[i]), int(pcln.span[i]))
        for i in order.tolist()
    )


def _init_inventory(
    pcln: Pclntab, md: ModuleData, packages: list[str], modmap: ModuleMap
) -> tuple[InitPackage, ...] | None:
    if md.init_tasks is None:
        return None
    out = []
    for task in md.init_tasks:
        idx = [int(np.searchsorted(pcln.entry, pc - md.text, side="right")) - 1 for pc in task.pcs]
        idx = [i for i in idx if i >= 0]
        if not idx:
            continue
        pkg = packages[idx[0]]  # the runtime names a task after its first init function's package
        code = int(sum(int(pcln.code_size[i]) or int(pcln.span[i]) for i in idx))
        out.append(InitPackage(pkg, modmap.module_of(pkg).module, tuple(pcln.names[i] for i in idx), code))
    # runtime.main runs runtime_inittasks (the runtime and what it imports) before the module's list, and
    # skips them there; that list is not in moduledata, so the runtime's own packages are moved first.
    return tuple(sorted(out, key=lambda i: not _is_runtime_dep(i.package)))


_RUNTIME_DEPS = {
    "runtime",
    "internal/bytealg",
    "internal/cpu",
    "internal/abi",
    "internal/chacha8rand",
    "internal/goarch",
    "internal/goos",
    "internal/godebugs",
    "internal/stringslite",
}


def _is_runtime_dep(package: str) -> bool:
    return package in _RUNTIME_DEPS or package.startswith(("internal/runtime/", "runtime/internal/"))
