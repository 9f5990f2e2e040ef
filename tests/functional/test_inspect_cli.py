"""`coldlab inspect` from the command line: outputs, --diff, budgets (exit 1), bad input (exit 2), --init-trace."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner, Result

from coldlab.cli import cli

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def stripped(go_build: Any) -> Path:
    path: Path = go_build("hello-go")
    return path


@pytest.fixture(scope="module")
def full(go_build: Any) -> Path:
    path: Path = go_build("hello-go", strip=False, trimpath=False, tags=())
    return path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["inspect", *map(str, args)], catch_exceptions=False)


def test_default_output_is_tables_that_add_up(stripped: Path) -> None:
    result = run(stripped, "--top", "5")
    assert result.exit_code == 0, result.output
    assert "Modules" in result.output and "Findings" in result.output
    assert "example.com/hello-go" in result.output
    assert "100.0%" in result.output


def test_json_has_schema_and_exact_ledger(stripped: Path) -> None:
    result = run(stripped, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["schema"] == "coldlab.inspect/1"
    assert doc["ledger_total"] == doc["file_size"] == stripped.stat().st_size
    assert doc["facts"]["main_module"]["path"] == "example.com/hello-go"
    assert doc["budgets"] == {"exceeded": []}
    assert doc["init_trace"] is None
    assert {"id", "bytes", "saving", "fix"} <= set(doc["findings"][0])


def test_markdown_for_pull_requests(full: Path) -> None:
    result = run(full, "--markdown")
    assert result.exit_code == 0
    assert result.output.startswith("### coldlab inspect")
    assert "| module | bytes | % |" in result.output
    assert "DWARF debug info is not stripped" in result.output


def test_html_treemap_is_self_contained(stripped: Path, tmp_path: Path) -> None:
    out = tmp_path / "tree.html"
    result = run(stripped, "--html", out)
    assert result.exit_code == 0
    page = out.read_text()
    assert "<svg" in page and page.count("<rect") > 20
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing loaded from anywhere
    assert "<script" not in page
    assert "example.com/hello-go" in page
    svg = ElementTree.fromstring(re.search(r"<svg.*</svg>", page, re.DOTALL).group(0))  # type: ignore[union-attr]
    assert len(svg.findall("{http://www.w3.org/2000/svg}g")) > 20


def test_diff_of_two_binaries_and_of_saved_json(stripped: Path, full: Path, tmp_path: Path) -> None:
    result = run("--diff", full, stripped, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc["schema"] == "coldlab.inspect-diff/1"
    assert doc["change"] == stripped.stat().st_size - full.stat().st_size < 0
    modules = {m["name"]: m for m in doc["modules"]}
    assert modules["(DWARF)"]["new"] == 0 and modules["(DWARF)"]["change"] < 0
    saved = tmp_path / "old.json"
    saved.write_text(run(full, "--json").output)
    again = json.loads(run("--diff", saved, stripped, "--json").output)
    assert again["change"] == doc["change"] and again["modules"] == doc["modules"]
    text = run("--diff", saved, stripped)
    assert text.exit_code == 0 and "Modules that changed" in text.output
    md = run("--diff", saved, stripped, "--markdown")
    assert "| module | old | new | change |" in md.output


def test_budgets_exit_1_and_say_which(stripped: Path) -> None:
    ok = run(stripped, "--max-size", "100MiB", "--max-module", "std=100MiB")
    assert ok.exit_code == 0
    result = CliRunner().invoke(
        cli,
        [
            "inspect",
            str(stripped),
            "--max-size",
            "1MiB",
            "--max-module",
            "std=10KiB",
            "--max-module",
            "example.com/hello-go=10MiB",
            "--json",
        ],
    )
    assert result.exit_code == 1
    exceeded = json.loads(result.stdout)["budgets"]["exceeded"]
    assert [b["budget"] for b in exceeded] == ["max-size", "max-module:std"]
    assert "max-size" in result.stderr and "module std" in result.stderr
    diff_budget = CliRunner().invoke(
        cli, ["inspect", "--diff", str(stripped), str(stripped), "--max-size", "1KiB"]
    )
    assert diff_budget.exit_code == 1


@pytest.mark.parametrize("bad", ["10 parsecs", "MiB", "-3"])
def test_bad_budget_is_a_usage_error(stripped: Path, bad: str) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(stripped), "--max-size", bad])
    assert result.exit_code == 2
    assert "size" in result.stderr


def _bad_inputs(tmp: Path, good: Path) -> dict[str, Path]:
    text = tmp / "main.go"
    text.write_text("package main\n")
    trunc = tmp / "truncated"
    trunc.write_bytes(good.read_bytes()[:200_000])
    macho = tmp / "macho"
    macho.write_bytes(b"\xcf\xfa\xed\xfe" + b"\0" * 4000)
    pe = tmp / "pe.exe"
    pe.write_bytes(b"MZ" + b"\0" * 4000)
    empty = tmp / "empty"
    empty.write_bytes(b"")
    fifo = tmp / "fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    return {
        "fifo": fifo,
        "device": Path("/dev/zero"),
        "missing": tmp / "nope",
        "directory": tmp,
        "text": text,
        "truncated": trunc,
        "macho": macho,
        "pe": pe,
        "empty": empty,
        "non-go-elf": Path(shutil.which("true") or "/bin/true").resolve(),
    }


@pytest.mark.parametrize(
    "kind",
    ["missing", "directory", "text", "truncated", "macho", "pe", "empty", "non-go-elf", "fifo", "device"],
)
def test_bad_input_is_one_line_exit_2(stripped: Path, tmp_path: Path, kind: str) -> None:
    path = _bad_inputs(tmp_path, stripped)[kind]
    proc = subprocess.run(  # the timeout only guards against a hang (a FIFO read blocks)
        [sys.executable, "-m", "coldlab", "inspect", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert str(path) in lines[0]
    expected = {
        "missing": "no such file",
        "directory": "directory",
        "text": "not an ELF",
        "truncated": "truncated",
        "macho": "Mach-O",
        "pe": "PE",
        "empty": "not an ELF",
        "non-go-elf": "Go build info",
        "fifo": "is a FIFO (named pipe), not a regular file",
        "device": "is a character device, not a regular file",
    }[kind]
    assert expected in lines[0]


def test_a_fifo_given_to_diff_is_refused_not_waited_on(stripped: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-m", "coldlab", "inspect", "--diff", str(fifo), str(stripped)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"coldlab: error: {fifo}: is a FIFO (named pipe), not a regular file "
        "(pass the binary itself, a file on disk such as path/to/bootstrap)"
    ]


def test_init_trace_runs_the_bootstrap(full: Path) -> None:
    result = CliRunner().invoke(
        cli, ["inspect", str(full), "--init-trace", "--json", "--max-init-ms", "60000"]
    )
    assert result.exit_code == 0, result.output
    trace = json.loads(result.stdout)["init_trace"]
    packages = [p["package"] for p in trace["packages"]]
    assert "runtime" in packages and "net/http" in packages
    assert trace["init_duration_ms"] is not None and trace["init_duration_ms"] > 0
    assert trace["package_init_clock_ms"] >= 0
    tight = CliRunner().invoke(cli, ["inspect", str(full), "--max-init-ms", "0"])
    assert tight.exit_code == 1 and "max-init-ms" in tight.stderr


def test_init_trace_refuses_another_architecture(go_build: Any) -> None:
    arm = go_build("hello-go", goarch="arm64")
    result = CliRunner().invoke(cli, ["inspect", str(arm), "--init-trace"])
    assert result.exit_code == 2
    assert "arm64" in result.stderr
