"""CI budgets: --max-size, --max-module PATH=SIZE, --max-init-ms. Exceeded budgets are listed, not raised."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from coldlab.errors import UsageError
from coldlab.inspect.inittrace import InitTrace
from coldlab.inspect.model import Report

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """'10MiB' -> 10485760, '1.5MB' -> 1500000, '4096' -> 4096."""
    m = _SIZE.match(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise UsageError(
            f"size {text!r} is not understood", "write a number with an optional unit: 10MiB, 500KB, 4096"
        )
    return int(float(m.group(1)) * _UNITS[unit])


def parse_module_budget(text: str) -> tuple[str, int]:
    path, sep, size = text.rpartition("=")
    if not sep or not path:
        raise UsageError(
            f"--max-module {text!r} is not PATH=SIZE", "e.g. --max-module github.com/aws/aws-sdk-go-v2=5MiB"
        )
    return path, parse_size(size)


@dataclass(frozen=True)
class Budgets:
    max_size: int | None = None
    max_modules: tuple[tuple[str, int], ...] = ()
    max_init_ms: float | None = None

    @property
    def any(self) -> bool:
        return self.max_size is not None or bool(self.max_modules) or self.max_init_ms is not None


@dataclass(frozen=True)
class Breach:
    budget: str
    limit: float
    actual: float
    message: str


def module_bytes(modules: Mapping[str, int], path: str) -> int:
    """Bytes of every module equal to `path` or under it (so a repo root covers its nested modules)."""
    return sum(size for name, size in modules.items() if name == path or name.startswith(path + "/"))


def check_report(report: Report, budgets: Budgets, trace: InitTrace | None) -> list[Breach]:
    return check(report.file_size, {m.name: m.size for m in report.modules}, budgets, trace)


def check(
    file_size: int, modules: Mapping[str, int], budgets: Budgets, trace: InitTrace | None
) -> list[Breach]:
    out = []
    if budgets.max_size is not None and file_size > budgets.max_size:
        out.append(
            Breach(
                "max-size",
                budgets.max_size,
                file_size,
                f"file size {file_size} bytes exceeds --max-size {budgets.max_size} bytes",
            )
        )
    for path, limit in budgets.max_modules:
        actual = module_bytes(modules, path)
        if actual > limit:
            out.append(
                Breach(
                    f"max-module:{path}",
                    limit,
                    actual,
                    f"module {path} has {actual} bytes, over its budget of {limit} bytes",
                )
            )
    if budgets.max_init_ms is not None and trace is not None:
        actual_ms = trace.init_duration_ms if trace.init_duration_ms is not None else trace.clock_ms
        if actual_ms > budgets.max_init_ms:
            what = (
                "init (exec to first /next)" if trace.init_duration_ms is not None else "package init clock"
            )
            out.append(
                Breach(
                    "max-init-ms",
                    budgets.max_init_ms,
                    actual_ms,
                    f"{what} took {actual_ms:.1f} ms, over --max-init-ms {budgets.max_init_ms:g}",
                )
            )
    return out
