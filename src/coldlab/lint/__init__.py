"""`coldlab lint`: the long-running patterns a frozen Lambda process gives up, found in Go source.

`lint(directory, patterns)` runs the Go helper (gohelper/, built once and cached by content) over a module
and returns a LintReport; `render_text`, `json_document` and `sarif_document` turn it into output.
"""

from __future__ import annotations

from coldlab.lint.engine import lint
from coldlab.lint.model import SEVERITIES, Finding, LintReport
from coldlab.lint.rules import RULES, Rule

__all__ = ["RULES", "SEVERITIES", "Finding", "LintReport", "Rule", "lint"]
