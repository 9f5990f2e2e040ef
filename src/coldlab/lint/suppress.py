"""`//coldlab:ignore RULE[,RULE...] reason` comments: on the finding's line, or alone on the line above it.

A suppression needs a known rule id and a reason; one without either suppresses nothing and is itself
reported (bad-suppression), so a typo cannot silence a finding unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from coldlab.lint.model import Finding, Position

_DIRECTIVE = re.compile(r"//\s*coldlab:ignore\b(?P<rest>.*)$")


@dataclass(frozen=True)
class Suppression:
    file: str
    line: int  # the line the comment is on
    col: int
    rules: tuple[str, ...]
    reason: str
    own_line: bool  # the comment is alone on its line, so it covers the next line


def scan(path: Path, shown_as: str) -> list[Suppression]:
    """The suppressions in one Go file (a file that cannot be read has none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _DIRECTIVE.search(line)
        if match is None or _inside_string(line, match.start()):
            continue
        words = match.group("rest").split(None, 1)
        rules = tuple(r for r in words[0].split(",") if r) if words else ()
        reason = words[1].strip() if len(words) > 1 else ""
        own_line = not line[: match.start()].strip()
        found.append(Suppression(shown_as, number, match.start() + 1, rules, reason, own_line))
    return found


def _inside_string(line: str, at: int) -> bool:
    """A `//` inside a string literal on the same line is not a comment."""
    return line[:at].count('"') % 2 == 1 or line[:at].count("`") % 2 == 1


def apply(
    findings: Iterable[Finding], suppressions: Iterable[Suppression], known: Iterable[str], severity: str
) -> list[Finding]:
    """Mark the findings a valid suppression covers; add a bad-suppression finding for each invalid one."""
    known_ids = set(known)
    valid: dict[tuple[str, int], list[Suppression]] = {}
    result: list[Finding] = []
    for s in suppressions:
        unknown = [r for r in s.rules if r not in known_ids]
        if not s.rules or unknown or not s.reason:
            why = (
                "names no rule" if not s.rules
                else f"names unknown rule {', '.join(unknown)}" if unknown
                else "gives no reason"
            )  # fmt: skip
            result.append(
                Finding(
                    rule="bad-suppression",
                    severity=severity,
                    pos=Position(s.file, s.line, s.col),
                    message=f"//coldlab:ignore {why}",
                )
            )
            continue
        covered = s.line + 1 if s.own_line else s.line
        valid.setdefault((s.file, covered), []).append(s)
    for finding in findings:
        here = valid.get((finding.pos.file, finding.pos.line), [])
        reason = next((s.reason for s in here if finding.rule in s.rules), None)
        result.append(finding if reason is None else replace(finding, suppressed=reason))
    return result
