"""The Go binary inspector: what makes a Lambda `bootstrap` big and slow to start.

Reading: `elf` (pyelftools), `buildinfo`, `pclntab`, `moduledata`, `names`. Accounting: `ledger` (every byte
of the file to one owner), `facts`, `findings`, `budgets`, `diff`, `inittrace`. Output: `model` (values and
JSON), `render` (rich), `markdown`, `html` (treemap). Entry point: `analyze.inspect_binary`.
"""

from __future__ import annotations

from coldlab.inspect.analyze import inspect_binary, inspect_bytes
from coldlab.inspect.errors import BinaryError
from coldlab.inspect.model import SCHEMA, Report

__all__ = ["SCHEMA", "BinaryError", "Report", "inspect_binary", "inspect_bytes"]
