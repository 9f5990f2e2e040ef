"""One cold start's init, split into phases from the init trace and the instants the environment saw.

Clocks: the exec instant (the probe host), each output line's arrival (the log sink, on the same monotonic
clock), Init Duration (exec -> first /next). The runtime prints `init <pkg> @<start> ms, <clock> ms clock,
...` as each package's init ends, with `@` counted from the Go runtime's start (reference go-binaries §4.4).
A line cannot arrive before it was written, so `arrival - (@start + clock)` is an upper bound of the
runtime's start for every line; the smallest bound is the estimate. From it:
  exec -> first package init (exec, ELF loading and page faults, rt0_go, schedinit);
  the package inits, from the first's start to the last's end: your modules' traced clock, and the rest (the
  standard library's inits and the runtime's own work between them, e.g. starting the GC workers);
  main's own work before the first /next (the gap after the last init: main.main, lambda.Start's set-up,
  anything it calls before asking for work).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from coldlab.inspect.inittrace import InitEntry, parse_lines
from coldlab.inspect.names import STD, ModuleMap


@dataclass(frozen=True)
class InitSplit:
    exec_to_first_init_ms: float
    runtime_ms: float  # the init span less your modules' clock: std inits and the runtime's work between them
    module_inits_ms: float  # the traced clock of your module's and its dependencies' package inits
    main_before_next_ms: float


@dataclass(frozen=True)
class StampedLine:
    at: float  # perf_counter when the environment got the line
    text: str


def trace_entries(lines: Iterable[StampedLine], modules: ModuleMap | None) -> list[tuple[float, InitEntry]]:
    """(arrival, entry) for every inittrace line, in the order the runtime ran them."""
    out = []
    for line in lines:
        parsed = parse_lines([line.text], modules)
        if parsed:
            out.append((line.at, parsed[0]))
    return out


def split_init(exec_at: float, init_ms: float, traced: Sequence[tuple[float, InitEntry]]) -> InitSplit | None:
    """The phases of one init, or None without init trace lines (not Go, or GODEBUG overridden)."""
    if not traced:
        return None
    runtime_start = min(at - (e.start_ms + e.clock_ms) / 1000 for at, e in traced)
    first = runtime_start + min(e.start_ms for _, e in traced) / 1000
    last_end = runtime_start + max(e.start_ms + e.clock_ms for _, e in traced) / 1000
    ready = exec_at + init_ms / 1000
    exec_to_first = max((first - exec_at) * 1000, 0.0)
    span = max((min(last_end, ready) - first) * 1000, 0.0)
    own = min(sum(e.clock_ms for _, e in traced if not _is_std(e)), span)
    main = max((ready - max(last_end, first)) * 1000, 0.0)
    return InitSplit(exec_to_first, span - own, own, main)


def _is_std(entry: InitEntry) -> bool:
    if entry.package == "main":
        return False
    return entry.module == STD or (not entry.module and "." not in entry.package.split("/", 1)[0])


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), q in [0, 100]; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class PackageInit:
    package: str
    module: str
    clock_ms: float  # p50 over the runs
    bytes: int
    allocs: int


@dataclass(frozen=True)
class ModuleInit:
    module: str
    clock_ms: float  # p50 over the runs of the module's summed package clocks
    clock_p90_ms: float
    bytes: int
    allocs: int
    packages: int


def roll_up(runs: Sequence[Sequence[InitEntry]]) -> tuple[list[ModuleInit], list[PackageInit]]:
    """Per module and per package, largest first, from every run's init trace."""
    by_package: dict[str, list[InitEntry]] = {}
    by_module: dict[str, list[list[InitEntry]]] = {}
    for entries in runs:
        per_module: dict[str, list[InitEntry]] = {}
        for entry in entries:
            by_package.setdefault(entry.package, []).append(entry)
            per_module.setdefault(_module_name(entry), []).append(entry)
        for module, group in per_module.items():
            by_module.setdefault(module, []).append(group)
    packages = [
        PackageInit(
            name,
            _module_name(seen[0]),
            percentile([e.clock_ms for e in seen], 50),
            int(percentile([e.bytes for e in seen], 50)),
            int(percentile([e.allocs for e in seen], 50)),
        )
        for name, seen in by_package.items()
    ]
    modules = []
    for module, groups in by_module.items():
        clocks = [sum(e.clock_ms for e in g) for g in groups]
        modules.append(
            ModuleInit(
                module,
                percentile(clocks, 50),
                percentile(clocks, 90),
                int(percentile([sum(e.bytes for e in g) for g in groups], 50)),
                int(percentile([sum(e.allocs for e in g) for g in groups], 50)),
                max(len(g) for g in groups),
            )
        )
    packages.sort(key=lambda p: (-p.clock_ms, -p.bytes, p.package))
    modules.sort(key=lambda m: (-m.clock_ms, -m.bytes, m.module))
    return modules, packages


def _module_name(entry: InitEntry) -> str:
    return entry.module or (STD if _is_std(entry) else entry.package)
