"""Shared fixtures. Go examples are built once per test run and cached by their build spec."""

from __future__ import annotations

import hashlib
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from coldlab import gotool

# A shell without job control starts background jobs with SIGINT ignored (POSIX), and an ignored signal
# stays ignored across exec: every coldlab the signal tests start would then ignore their Ctrl-C. Those
# tests need Python's own SIGINT handling in their children, whatever started this run.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

GoBuilder = Callable[..., Path]


@pytest.fixture(scope="session")
def go_build(tmp_path_factory: pytest.TempPathFactory) -> GoBuilder:
    """Build a Go package once per run: `go_build("hello-go", strip=False)` returns the binary's path.

    The first argument is a directory under examples/ or an absolute path; keyword arguments are GoBuild
    fields. The output file is named `bootstrap` inside a directory of its own, so it can be used as a
    function's code directory directly.
    """
    root = tmp_path_factory.mktemp("go-builds")
    built: dict[str, Path] = {}

    def build(package: str | Path, **options: object) -> Path:
        package_dir = Path(package) if Path(package).is_absolute() else EXAMPLES / package
        spec = gotool.GoBuild(package_dir=package_dir, **options)  # type: ignore[arg-type]
        key = hashlib.sha256(repr(spec).encode()).hexdigest()[:16]
        if key not in built:
            built[key] = gotool.build(spec, root / key / "bootstrap")
        return built[key]

    return build
