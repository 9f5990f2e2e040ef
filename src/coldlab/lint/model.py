"""Values of a lint run: positions, findings, compile errors and the report that holds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SEVERITIES = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, order=True)
class Position:
    file: str  # relative to the module directory where it lies inside it, else absolute
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    pos: Position
    message: str  # what was found here, e.g. "an HTTP request at init"
    call: str = ""  # the resolved callee, e.g. "(*net/http.Client).Do"
    via: tuple[str, ...] = ()  # the call path from init / main / the handler to the finding
    suppressed: str | None = None  # the reason given in //coldlab:ignore, when suppressed


@dataclass(frozen=True)
class CompileError:
    package: str
    kind: str  # list, parse, type
    pos: Position | None
    message: str


@dataclass(frozen=True)
class Facts:
    """What the helper saw that the memory-dependent rules need."""

    module_path: str
    module_dir: Path
    go_version: str  # the go.mod `go` line
    lambda_function: bool
    extension: bool
    lambda_starts: tuple[Position, ...] = ()
    automaxprocs: tuple[Position, ...] = ()
    gomaxprocs_calls: tuple[Position, ...] = ()
    handlers: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemorySetting:
    """The memory size the GOMAXPROCS rules judge, and where it came from."""

    memory_mb: int | None
    source: str  # "--memory", "template.yaml:12 (Function Worker)", or "" when unknown
    env_gomaxprocs: str | None = None  # GOMAXPROCS set in the function's environment (template)
    layers: int = 0  # layers on the function (one may be an extension)


@dataclass(frozen=True)
class LintReport:
    module_dir: Path
    patterns: tuple[str, ...]
    packages: int
    files: int
    findings: tuple[Finding, ...]
    errors: tuple[CompileError, ...]
    facts: Facts
    memory: MemorySetting
    notes: tuple[str, ...] = field(default=())

    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is None)

    def at_or_above(self, severity: str) -> tuple[Finding, ...]:
        floor = severity_rank(severity)
        return tuple(f for f in self.active() if severity_rank(f.severity) >= floor)
