"""`GODEBUG=inittrace=1`: parse the runtime's per-package init lines, and run a bootstrap to get them.

Line format (runtime/proc.go doInit1):
`init <pkg> @<start> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs`.
`@` counts from runtime start, so exec, ELF loading and the scheduler's set-up are not in it; the
execution environment's init duration (exec -> first /next) is, and is reported beside it.
"""

from __future__ import annotations

import platform
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from coldlab.inspect.errors import BinaryError
from coldlab.inspect.names import ModuleMap

_LINE = re.compile(r"\binit (\S+) @([0-9.]+) ?ms, ([0-9.]+) ms clock, (\d+) bytes, (\d+) allocs\s*$")
_HOST_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class InitEntry:
    package: str
    module: str
    start_ms: float
    clock_ms: float
    bytes: int
    allocs: int


@dataclass(frozen=True)
class InitTrace:
    entries: tuple[InitEntry, ...]  # in the order the runtime ran them
    init_duration_ms: float | None  # exec -> first /next, from the execution environment
    status: str  # the cold invoke's status ("success", "error", ...), or "parsed" for text input
    notes: tuple[str, ...] = ()

    @property
    def clock_ms(self) -> float:
        return sum(e.clock_ms for e in self.entries)

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.entries)

    @property
    def allocs(self) -> int:
        return sum(e.allocs for e in self.entries)

    def slowest(self, n: int = 15) -> list[InitEntry]:
        return sorted(self.entries, key=lambda e: -e.clock_ms)[:n]


def parse_lines(lines: Iterable[str], modules: ModuleMap | None = None) -> tuple[InitEntry, ...]:
    out = []
    for line in lines:
        m = _LINE.search(line)
        if m is None:
            continue
        pkg = m.group(1)
        module = modules.module_of(pkg).module if modules is not None else ""
        out.append(
            InitEntry(pkg, module, float(m.group(2)), float(m.group(3)), int(m.group(4)), int(m.group(5)))
        )
    return tuple(out)


def check_runnable(goarch: str) -> None:
    host = _HOST_ARCH.get(platform.machine().lower(), platform.machine())
    if goarch != host:
        raise BinaryError(
            f"--init-trace needs a binary for this machine ({host}); this one is built for {goarch}",
            f"rebuild with GOARCH={host} to measure init locally",
        )


async def run_init_trace(binary: Path, modules: ModuleMap | None, memory_mb: int = 1769) -> InitTrace:
    """Cold-invoke `binary` once as a Lambda bootstrap with GODEBUG=inittrace=1 and parse what it printed."""
    from coldlab.config import FunctionConfig
    from coldlab.platform import Environment

    workdir = Path(tempfile.mkdtemp(prefix="coldlab-inittrace-"))
    try:
        shutil.copy2(binary, workdir / "bootstrap")
        config = FunctionConfig.create(workdir, memory_mb=memory_mb, environment={"GODEBUG": "inittrace=1"})
        async with Environment(config) as env:
            result = await env.invoke(b"{}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    entries = parse_lines(result.log_lines, modules)
    notes = []
    if not entries:
        notes.append("the bootstrap printed no inittrace lines (not a Go binary, or GODEBUG overridden?)")
    if result.init_duration_ms is None:
        notes.append(f"init did not reach the first /next (status {result.status})")
    return InitTrace(entries, result.init_duration_ms, result.status, tuple(notes))
