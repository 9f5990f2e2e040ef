"""`//coldlab:ignore RULE reason` parsing and matching, on files written here (no Go runs)."""

from __future__ import annotations

from pathlib import Path

from coldlab.lint import RULES
from coldlab.lint.model import Finding, Position
from coldlab.lint.suppress import apply, scan

SOURCE = """package main

func init() {
\t//coldlab:ignore init-network the warm-up is the point
\tcallA()
\tcallB() //coldlab:ignore init-network,init-background measured: 2 ms
\t// coldlab:ignore init-background spaced out, still a directive
\tcallC()
\t//coldlab:ignore init-netwrok typo
\tcallD()
\tcallE() //coldlab:ignore init-network
\t//coldlab:ignore
\tcallF()
\t_ = "//coldlab:ignore init-network in a string"
}
"""


def finding(line: int, rule: str = "init-network") -> Finding:
    return Finding(rule, "warning", Position("main.go", line, 2), "a call at init")


def suppressions(tmp_path: Path) -> list:  # type: ignore[type-arg]
    path = tmp_path / "main.go"
    path.write_text(SOURCE)
    return scan(path, "main.go")


def test_scan_reads_rules_reason_and_placement(tmp_path: Path) -> None:
    found = suppressions(tmp_path)
    assert [(s.line, s.rules, s.reason, s.own_line) for s in found] == [
        (4, ("init-network",), "the warm-up is the point", True),
        (6, ("init-network", "init-background"), "measured: 2 ms", False),
        (7, ("init-background",), "spaced out, still a directive", True),
        (9, ("init-netwrok",), "typo", True),
        (11, ("init-network",), "", False),
        (12, (), "", True),
    ]  # the one inside a string literal is not a comment


def test_a_suppression_covers_its_own_line_or_the_next(tmp_path: Path) -> None:
    result = apply(
        [finding(5), finding(6), finding(6, "init-background"), finding(8, "init-background"), finding(8)],
        suppressions(tmp_path),
        RULES,
        "warning",
    )
    by_place = {(f.pos.line, f.rule): f.suppressed for f in result if f.rule != "bad-suppression"}
    assert by_place == {
        (5, "init-network"): "the warm-up is the point",
        (6, "init-network"): "measured: 2 ms",
        (6, "init-background"): "measured: 2 ms",
        (8, "init-background"): "spaced out, still a directive",
        (8, "init-network"): None,  # the comment above names another rule
    }


def test_bad_suppressions_suppress_nothing_and_are_reported(tmp_path: Path) -> None:
    result = apply([finding(10), finding(11), finding(13)], suppressions(tmp_path), RULES, "warning")
    assert all(f.suppressed is None for f in result)
    bad = sorted((f.pos.line, f.message) for f in result if f.rule == "bad-suppression")
    assert bad == [
        (9, "//coldlab:ignore names unknown rule init-netwrok"),
        (11, "//coldlab:ignore gives no reason"),
        (12, "//coldlab:ignore names no rule"),
    ]


def test_unreadable_files_have_no_suppressions(tmp_path: Path) -> None:
    assert scan(tmp_path / "missing.go", "missing.go") == []
