"""Will a Go bootstrap run more Ps (GOMAXPROCS) than the vCPU its memory size buys? Say so before it runs.

Go binaries are recognised by their `.go.buildinfo` section (magic "\\xff Go buildinf:"), which also carries
the Go version and the module's DefaultGODEBUG: enough to predict GOMAXPROCS without running anything.

Whether more Ps than CPU actually costs anything is not assumed: TRUTH_TABLE holds what
benchmarks/gomaxprocs.py measured (GOMAXPROCS picked and the parallel allocation-heavy example's duration,
per memory size, with the quota hidden and visible), and the warning (and `coldlab lint`) quote it.
"""

from __future__ import annotations

import math
import mmap
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from coldlab.sandbox.host import Limits
from coldlab.sandbox.spawning import host_cpus

BUILDINFO_MAGIC = b"\xff Go buildinf:"
_FLAG_INLINE_STRINGS = 0x2  # Go 1.18+: version and modinfo are varint-prefixed strings after a 32-byte header
_SCAN_LIMIT = 64 * 1024 * 1024


# --- the truth table (benchmarks/gomaxprocs.py --table; README "GOMAXPROCS") ------------------------------

TABLE_KINDS = ("go1.24", "go1.25", "automaxprocs", "option2")
TABLE_MACHINE = "2 shared CPUs, cgroup v1, go1.27.3, load average 3-5"  # where the figures were measured


@dataclass(frozen=True)
class TruthRow:
    """One memory size with the quota hidden (parent cgroup, Lambda) or visible (leaf, Cloud Run-like)."""

    memory_mb: int
    visible: bool
    picks: tuple[int, int, int, int]  # GOMAXPROCS picked by TABLE_KINDS, in that order
    ratios: tuple[float, float, float, float]  # median duration under each / under GOMAXPROCS=1
    one_ms: float  # median duration with GOMAXPROCS=1

    def pick(self, kind: str) -> int:
        return self.picks[TABLE_KINDS.index(kind)]

    def ratio(self, kind: str) -> float:
        return self.ratios[TABLE_KINDS.index(kind)]


# benchmarks/gomaxprocs.py --python (units 240, runs 5): (memory_mb, visible, picks, ratios, one_ms).
TRUTH_TABLE: tuple[TruthRow, ...] = tuple(
    TruthRow(mb, visible, picks, ratios, one_ms)
    for mb, visible, picks, ratios, one_ms in (
        (128, False, (2, 2, 2, 1), (2.4, 1.95, 2.21, 1.0), 852.4),
        (512, False, (2, 2, 2, 1), (2.39, 2.31, 2.8, 1.01), 174.3),
        (1024, False, (2, 2, 2, 1), (1.84, 1.31, 1.66, 0.67), 136.3),
        (1769, False, (2, 2, 2, 2), (1.53, 1.09, 1.53, 1.24), 119.8),
        (3008, False, (2, 2, 2, 2), (2.06, 1.52, 3.63, 2.59), 84.9),
        (128, True, (2, 2, 1, 1), (2.42, 2.29, 1.25, 0.82), 713.3),
        (512, True, (2, 2, 1, 1), (2.14, 2.37, 1.1, 1.29), 158.4),
        (1024, True, (2, 2, 1, 1), (4.0, 3.89, 1.79, 1.48), 43.8),
        (1769, True, (2, 2, 1, 2), (1.71, 1.46, 0.8, 1.82), 79.6),
        (3008, True, (2, 2, 1, 2), (4.14, 3.01, 1.17, 2.94), 37.2),
    )
)
NO_QUOTA_RATIO = 1.22  # the same work, GOMAXPROCS=2 against 1, with no CPU quota (the benchmark's last row)
OVER_SCHEDULING_RATIO = 1.1  # measured slow-down (GOMAXPROCS=2 against 1) worth a warning


def truth_row(memory_mb: int, visible: bool, table: Sequence[TruthRow] = TRUTH_TABLE) -> TruthRow:
    """The measured row for the largest memory size at or below `memory_mb` (the smallest row below it)."""
    rows = sorted((r for r in table if r.visible == visible), key=lambda r: r.memory_mb)
    below = [r for r in rows if r.memory_mb <= memory_mb]
    return below[-1] if below else rows[0]


def truth_table_pick(kind: str, memory_mb: int, *, visible: bool) -> int:
    """GOMAXPROCS that `kind` (go1.24, go1.25, automaxprocs, option2) picked at that memory size."""
    return truth_row(memory_mb, visible).pick(kind)


def truth_table_summary(kind: str) -> str:
    """One sentence of measured figures for coldlab lint's rule texts."""
    hidden = sorted((r for r in TRUTH_TABLE if not r.visible), key=lambda r: r.memory_mb)
    full = next(r for r in hidden if r.memory_mb >= 1769)
    if kind == "automaxprocs":
        picks = sorted({r.pick("automaxprocs") for r in hidden})
        shown = "/".join(str(p) for p in picks)
        return (
            f"Measured in coldlab's Lambda-like sandbox (quota on a parent cgroup; {TABLE_MACHINE}): "
            f"automaxprocs picked GOMAXPROCS={shown} at {hidden[0].memory_mb}-{hidden[-1].memory_mb} MB."
        )
    small = [r for r in hidden if r.memory_mb < 1769]
    figures = ", ".join(f"{r.ratio('go1.24'):.2f}x at {r.memory_mb} MB" for r in small)
    return (
        f"Measured in coldlab's Lambda-like sandbox ({TABLE_MACHINE}): parallel allocation-heavy work took "
        f"{figures} as long with Go's default as with GOMAXPROCS=1 ({full.ratio('go1.24'):.2f}x at "
        f"{full.memory_mb} MB, and {NO_QUOTA_RATIO:.2f}x with no quota at all: part of the cost is this "
        "workload's own; benchmarks/gomaxprocs.py)."
    )


@dataclass(frozen=True)
class GoBinary:
    """What the build info says about GOMAXPROCS behaviour."""

    go_version: str  # "go1.27.3", or "" for pre-1.18 binaries
    container_aware: bool  # Go 1.25+ reading the cgroup CPU limit (unless DefaultGODEBUG turns it off)
    module_opted_out: bool = False  # a Go 1.25+ toolchain, but go.mod's go line < 1.25 turned it off


def _uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while offset < len(data):
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7
    raise ValueError("truncated varint")


def _buildinfo_bytes(path: Path) -> bytes | None:
    with path.open("rb") as file:
        try:
            section = ELFFile(file).get_section_by_name(".go.buildinfo")
        except ELFError:
            return None  # not ELF: not a Go binary we can judge
        if section is not None:
            data: bytes = section.data()
            return data
        # No section headers (heavily stripped): look for the magic, 16-byte aligned, in the first 64 MB.
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            at = mapped.find(BUILDINFO_MAGIC, 0, _SCAN_LIMIT)
            while at >= 0 and at % 16:
                at = mapped.find(BUILDINFO_MAGIC, at + 1, _SCAN_LIMIT)
            return None if at < 0 else bytes(mapped[at : at + 64 * 1024])


def go_binary(path: Path) -> GoBinary | None:
    """The Go facts of `path`, or None if it is not a Go binary (or cannot be read)."""
    try:
        data = _buildinfo_bytes(path)
    except (OSError, ValueError):
        return None
    if data is None or not data.startswith(BUILDINFO_MAGIC):
        return None
    if not data[15] & _FLAG_INLINE_STRINGS:
        return GoBinary("", container_aware=False)  # Go < 1.18 predates container awareness anyway
    try:
        length, offset = _uvarint(data, 32)
        version = data[offset : offset + length].decode(errors="replace")
        length, offset = _uvarint(data, offset + length)
        modinfo = data[offset : offset + length].decode(errors="replace")
    except ValueError:
        return None
    match = re.match(r"go1\.(\d+)", version)
    new_toolchain = bool(match and int(match.group(1)) >= 25)
    opted_out = "containermaxprocs=0" in modinfo
    return GoBinary(version, new_toolchain and not opted_out, module_opted_out=new_toolchain and opted_out)


def predicted_gomaxprocs(
    binary: GoBinary, limits: Limits, env: Mapping[str, str], cpus: int | None = None
) -> tuple[int, str]:
    """GOMAXPROCS the Go runtime will pick in coldlab's sandbox, and why."""
    cpus = cpus or host_cpus()
    explicit = env.get("GOMAXPROCS", "").strip()
    if explicit.isdigit() and int(explicit) > 0:
        return int(explicit), f"GOMAXPROCS={explicit} is set"
    aware = binary.container_aware and "containermaxprocs=0" not in env.get("GODEBUG", "")
    if aware and limits.cpu_visibility == "leaf":
        n = min(cpus, max(2, math.ceil(limits.vcpus)))
        return n, f"{binary.go_version} reads the quota on its cgroup but never goes below 2"
    if aware:
        where = "the quota sits on a parent cgroup, as on Lambda, where Go cannot see it"
    elif binary.module_opted_out:
        where = "go.mod declares a Go before 1.25, so the runtime ignores CPU quotas"
    else:
        where = "this Go ignores CPU quotas"
    return cpus, f"Go's default, the {cpus} CPUs it can see: {where}"


def gomaxprocs_advice(
    bootstrap: Path, limits: Limits, env: Mapping[str, str], *, table: Sequence[TruthRow] = TRUTH_TABLE
) -> str | None:
    """A one-line warning when a Go bootstrap would run with more Ps than its vCPU AND the truth table
    measured that as slower than GOMAXPROCS=1 at that memory size and quota visibility; else None.

    Where the table did not measure the GOMAXPROCS predicted (an explicit value, another CPU count) the
    warning says so instead of quoting a figure."""
    binary = go_binary(bootstrap)
    if binary is None:
        return None
    n, why = predicted_gomaxprocs(binary, limits, env)
    if n <= max(1, math.ceil(limits.vcpus)):
        return None
    suggested = max(1, math.floor(limits.vcpus))
    version = binary.go_version or "go < 1.18"
    start = (
        f"{bootstrap.name} is a Go binary ({version}) and will run with GOMAXPROCS={n} ({why}) "
        f"on {limits.vcpus:.2f} vCPU ({limits.memory_mb} MB)"
    )
    kind = "go1.25" if binary.container_aware else "go1.24"
    row = truth_row(limits.memory_mb, limits.cpu_visibility == "leaf", table) if table else None
    explicit = env.get("GOMAXPROCS", "").strip().isdigit()  # the table measured defaults, not this value
    if row is None or row.pick(kind) != n or explicit:
        return (
            f"{start}: more Ps than CPU can over-schedule parallel work (not measured for GOMAXPROCS={n}); "
            f"measure with --env GOMAXPROCS={suggested} (benchmarks/gomaxprocs.py)"
        )
    ratio = row.ratio(kind)
    if ratio < OVER_SCHEDULING_RATIO:
        return None  # measured: the extra Ps cost nothing here
    quota = "visible" if row.visible else "hidden"
    return (
        f"{start}: measured here, parallel allocation-heavy work took {ratio:.2f}x as long as with "
        f"GOMAXPROCS=1 at {row.memory_mb} MB (quota {quota}); set --env GOMAXPROCS={suggested} "
        "(benchmarks/gomaxprocs.py)"
    )
