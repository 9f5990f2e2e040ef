"""Bad input to any command ends as coldlab's one line and exit 2, click's usage errors included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coldlab.cli import cli


def coldlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldlab", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["invoke", "code", "--memory", "abc"],
            "coldlab: error: invalid value for '--memory': 'abc' is not a valid integer "
            "(run coldlab invoke --help)",
        ),
        (
            ["invoke", "code", "--repeat", "-3"],
            "coldlab: error: invalid value for '--repeat': -3 is not in the range x>=1 (run coldlab invoke --help)",
        ),
        (["invoke"], "coldlab: error: missing argument 'PATH' (run coldlab invoke --help)"),
        (
            ["invoke", "code", "--frobnicate"],
            "coldlab: error: no such option '--frobnicate' (run coldlab invoke --help)",
        ),
        (
            ["invoke", "code", "--log-format", "xml"],
            "coldlab: error: invalid value for '--log-format': 'xml' is not one of 'text', 'json' "
            "(run coldlab invoke --help)",
        ),
        (
            ["simulate", "--rate", "fast"],
            "coldlab: error: invalid value for '--rate': 'fast' is not a valid float (run coldlab simulate --help)",
        ),
        (
            ["simulate", "--horizon"],
            "coldlab: error: option '--horizon' requires an argument (run coldlab simulate --help)",
        ),
        (
            ["doctor", "--memory", "lots"],
            "coldlab: error: invalid value for '--memory': 'lots' is not a valid integer (run coldlab doctor --help)",
        ),
        (["plan", "--bogus"], "coldlab: error: no such option '--bogus' (run coldlab plan --help)"),
        (["nosuch"], "coldlab: error: no such command 'nosuch' (run coldlab --help)"),
        (["--bogus"], "coldlab: error: no such option '--bogus' (run coldlab --help)"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], line: str) -> None:
    done = coldlab(*args)
    assert done.returncode == 2
    assert done.stderr == line + "\n"
    assert done.stdout == ""


@pytest.mark.parametrize("args", [["tune", "code", "-n", "-3"], ["tune", "code", "--memory", "abc"]])
def test_tune_usage_errors_too(args: list[str]) -> None:
    done = coldlab(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("coldlab: error: ")
    assert len(done.stderr.splitlines()) == 1
    assert "Usage:" not in done.stderr


def test_the_same_line_through_clicks_test_runner() -> None:
    """The conversion lives in the group's main, so in-process callers (CliRunner) get it as well."""
    result = CliRunner().invoke(cli, ["invoke", "code", "--memory", "abc"], prog_name="coldlab")
    assert result.exit_code == 2
    assert result.stderr == (
        "coldlab: error: invalid value for '--memory': 'abc' is not a valid integer (run coldlab invoke --help)\n"
    )


def test_help_and_version_still_exit_0() -> None:
    assert coldlab("--help").returncode == 0
    assert coldlab("invoke", "--help").stdout.startswith("Usage: coldlab invoke [OPTIONS] PATH")
    assert coldlab("--version").stdout == "coldlab, version 0.1.0\n"


def test_bare_coldlab_shows_the_help() -> None:
    done = coldlab()
    assert "Commands:" in done.stderr + done.stdout
    assert done.returncode == 2  # as click has it: no command is a usage error


def test_coldlab_errors_keep_their_line(tmp_path: Path) -> None:
    done = coldlab("invoke", str(tmp_path), "--memory", "64")
    assert done.returncode == 2
    assert done.stderr == (
        "coldlab: error: memory size 64 MB is out of range (use a whole number from 128 to 10240 MB)\n"
    )
