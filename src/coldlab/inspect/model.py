"""The inspection report as values, and its JSON form (schema coldlab.inspect/1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from coldlab.inspect.buildinfo import Module
from coldlab.inspect.ledger import Row

SCHEMA = "coldlab.inspect/1"


@dataclass(frozen=True)
class Facts:
    go_version: str
    goos: str
    goarch: str
    arch_level: str | None  # GOAMD64=v1 / GOARM64=v8.0, when recorded
    cgo_enabled: bool | None  # from the CGO_ENABLED build setting
    symbols_stripped: bool  # no .symtab (-s)
    dwarf_stripped: bool  # no .debug_* / .zdebug_* (-w)
    trimpath: bool  # -trimpath=true setting, or no absolute paths in the file table
    pie: bool
    dynamically_linked: bool
    interpreter: str | None
    needed: tuple[str, ...]
    lambda_rpc: str  # "compiled in" | "not compiled in (lambda.norpc)" | "not applicable (no aws-lambda-go)"
    lambda_rpc_evidence: str  # what decided it: the -tags build setting, RPC entry functions, net/rpc
    build_tags: str | None
    ldflags: str | None
    main_path: str
    main_module: Module | None
    deps: tuple[Module, ...]
    settings: tuple[tuple[str, str], ...]
    notes: tuple[str, ...] = ()  # how facts were found when the preferred source was missing


@dataclass(frozen=True)
class Size:
    name: str
    size: int
    module: str = ""  # for packages
    detail: dict[str, int] = field(default_factory=dict)  # bytes per ledger kind


@dataclass(frozen=True)
class Function:
    name: str
    package: str
    address: int
    size: int  # exact code bytes (what `go tool nm -size` prints)
    padded: int  # size + alignment padding up to the next function


@dataclass(frozen=True)
class InitPackage:
    package: str
    module: str
    functions: tuple[str, ...]
    code_bytes: int


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str  # "info" | "warn"
    title: str
    detail: str
    bytes: int  # bytes involved
    saving: int  # estimated bytes saved by the fix (0 when not a size fix)
    fix: str


@dataclass(frozen=True)
class Report:
    path: str
    file_size: int
    zipped_size: int  # deflate, as a Lambda zip would hold it
    facts: Facts
    ledger: tuple[Row, ...]
    modules: tuple[Size, ...]
    packages: tuple[Size, ...]
    sections: tuple[Size, ...]
    functions: tuple[Function, ...]  # largest first, top N
    function_count: int
    init_packages: tuple[InitPackage, ...] | None  # in execution order; None when not recoverable
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["schema"] = SCHEMA
        out["ledger_total"] = sum(r.size for r in self.ledger)
        return out
