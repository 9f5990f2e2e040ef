"""Fixtures for tests that run real bootstraps against a real Runtime API on 127.0.0.1."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from support.runtime_scripts import ScriptFactory, write_script_bootstrap


@pytest.fixture
def script_bootstrap(tmp_path: Path) -> ScriptFactory:
    """`script_bootstrap(body)` writes a Python bootstrap (prelude + body) and returns its code directory."""
    counter = itertools.count()
    return lambda body: write_script_bootstrap(tmp_path / f"code{next(counter)}", body)
