"""Template values that remember where they came from, and the one error every template problem raises.

The YAML loader builds plain dicts and lists, subclassed to carry line numbers: `LocMap.line_of(key)` is the
line of a property, so a message can say `template.yaml:14`. Scalars stay plain str/int/bool/None.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.errors import UsageError


class TemplateError(UsageError):
    """A template that cannot be served: YAML error, unknown type, missing CodeUri, unresolvable intrinsic."""


class LocMap(dict[str, Any]):
    """A YAML mapping with the line of the mapping and of each key (1-based)."""

    def __init__(self, items: dict[str, Any] | None = None, *, line: int = 0) -> None:
        super().__init__(items or {})
        self.line = line
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LocList(list[Any]):
    """A YAML sequence with its line and each item's line (1-based)."""

    def __init__(self, items: list[Any] | None = None, *, line: int = 0) -> None:
        super().__init__(items or [])
        self.line = line
        self.item_lines: list[int] = []

    def line_at(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def line_of(value: object, default: int) -> int:
    """The line a value starts on when it knows it (maps, lists), else `default` (its key's line)."""
    return value.line if isinstance(value, LocMap | LocList) and value.line else default


@dataclass(frozen=True)
class Where:
    """A place in a template: the file, a line, the property path (`Resources.Hello.Properties.Timeout`)."""

    file: Path
    line: int
    path: str

    def child(self, key: str | int, line: int | None = None) -> Where:
        part = f"[{key}]" if isinstance(key, int) else f".{key}" if self.path else key
        return Where(self.file, self.line if line is None else line, f"{self.path}{part}")

    def at(self, container: LocMap | LocList, key: str | int) -> Where:
        """The place of `container[key]`, on the line of its key (maps) or of the item (lists)."""
        if isinstance(container, LocMap) and isinstance(key, str):
            return self.child(key, container.line_of(key))
        if isinstance(container, LocList) and isinstance(key, int):
            return self.child(key, container.line_at(key))
        return self.child(key)

    def error(self, what: str, hint: str) -> TemplateError:
        return TemplateError(f"{self.file}:{self.line}: {self.path}: {what}", hint)

    def warning(self, what: str) -> str:
        return f"{self.file}:{self.line}: {self.path}: {what}"
