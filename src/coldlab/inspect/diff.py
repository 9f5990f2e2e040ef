"""`--diff OLD NEW`: per module, package and section size deltas between two reports (binaries or JSON)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from coldlab.errors import UsageError
from coldlab.inspect.elf import open_regular
from coldlab.inspect.errors import BinaryError
from coldlab.inspect.model import SCHEMA

DIFF_SCHEMA = "coldlab.inspect-diff/1"


@dataclass(frozen=True)
class Delta:
    name: str
    old: int
    new: int

    @property
    def change(self) -> int:
        return self.new - self.old


@dataclass(frozen=True)
class Diff:
    old_path: str
    new_path: str
    old_size: int
    new_size: int
    modules: tuple[Delta, ...]
    packages: tuple[Delta, ...]
    sections: tuple[Delta, ...]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("modules", "packages", "sections"):
            for row in out[key]:
                row["change"] = row["new"] - row["old"]
        return {"schema": DIFF_SCHEMA, **out, "change": self.new_size - self.old_size}


def load_report_json(path: Path) -> dict[str, Any] | None:
    """A saved `--json` report, or None when `path` is not JSON (then it is treated as a binary)."""
    try:
        fd = open_regular(path)
    except BinaryError:
        return None  # missing, unreadable or not a regular file: the binary reader says which
    with os.fdopen(fd, "rb") as f:
        head = f.read(1)
        if head not in (b"{", b" ", b"\n"):
            return None
        raw = head + f.read()
    try:
        data: dict[str, Any] = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path}: not valid JSON ({exc})", "pass a binary or a saved `coldlab inspect --json`"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UsageError(
            f"{path}: JSON without schema {SCHEMA!r}", "pass a saved `coldlab inspect --json` report"
        )
    return data


def _deltas(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[Delta, ...]:
    a = {r["name"]: int(r["size"]) for r in old}
    b = {r["name"]: int(r["size"]) for r in new}
    rows = [Delta(n, a.get(n, 0), b.get(n, 0)) for n in set(a) | set(b)]
    rows = [r for r in rows if r.change]
    return tuple(sorted(rows, key=lambda r: (-abs(r.change), r.name)))


def diff(old: dict[str, Any], new: dict[str, Any]) -> Diff:
    try:
        return Diff(
            str(old["path"]),
            str(new["path"]),
            int(old["file_size"]),
            int(new["file_size"]),
            _deltas(old["modules"], new["modules"]),
            _deltas(old["packages"], new["packages"]),
            _deltas(old["sections"], new["sections"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(
            f"a report given to --diff is missing fields ({exc})",
            "regenerate it with `coldlab inspect --json`",
        ) from exc
