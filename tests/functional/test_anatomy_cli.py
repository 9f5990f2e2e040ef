"""`coldlab anatomy` through the command line: JSON (coldlab.anatomy/1), Markdown, the PNG waterfall, the budget
exit code, and bad input (another architecture or OS, not Go, a failing or hanging init, strace missing)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coldlab.anatomy.analyze import analyze
from coldlab.anatomy.runner import RunSpec
from support.runtime_scripts import GoBuilder, ScriptFactory

COLDLAB = [sys.executable, "-c", "from coldlab.cli import main; main()"]
FAST = ("--runs", "2", "--warm", "1", "--memory", "1769")
ORDER = [
    "provisioning", "download", "unzip", "exec", "runtime_inits", "package_inits", "main_before_next",
    "lambda_init", "first_request",
]  # fmt: skip


def coldlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COLDLAB, "anatomy", *args], capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.mark.go
def test_json_png_and_the_budget(go_build: GoBuilder, tmp_path: Path) -> None:
    code = go_build("hello-go").parent
    png = tmp_path / "waterfall.png"
    done = coldlab(str(code), *FAST, "--no-network", "--json", "--png", str(png), "--max-cold-start-ms", "1")
    assert done.returncode == 1, done.stderr  # no cold start fits in 1 ms: the budget fails the run
    assert done.stderr.strip().splitlines()[-1].startswith("coldlab: budget exceeded: cold-start latency p50 ")
    doc = json.loads(done.stdout)
    assert doc["schema"] == "coldlab.anatomy/1"
    assert doc["budget"] == {"max_cold_start_ms": 1.0, "exceeded": True}
    phases = {p["id"]: p for p in doc["phases"]}
    assert [p["id"] for p in doc["phases"]] == ORDER
    assert {i for i, p in phases.items() if p["kind"] == "modelled"} == {"provisioning", "download", "lambda_init"}
    assert all(p["source"] for p in doc["phases"])  # every figure says where it comes from
    billed = {i for i, p in phases.items() if p["billed"] == "Init Duration"}
    assert billed == {"exec", "runtime_inits", "package_inits", "main_before_next", "lambda_init"}
    assert phases["first_request"]["billed"] == "Duration"
    assert all(p["p50_ms"] is not None and p["p90_ms"] >= p["p50_ms"] for p in doc["phases"])
    totals = doc["totals"]
    here, modelled = totals["init_duration_ms"]["measured_here"], totals["init_duration_ms"]["lambda_modelled"]
    assert modelled["p50_ms"] == pytest.approx(here["p50_ms"] + phases["lambda_init"]["p50_ms"], abs=0.01)
    latency = totals["cold_latency_ms"]["p50_ms"]
    assert latency > modelled["p50_ms"] + phases["provisioning"]["p50_ms"]
    assert doc["binary"]["go"] is True and doc["binary"]["zipped_bytes"] < doc["binary"]["size_bytes"]
    assert [r["ok"] for r in doc["runs"]] == [True, True]
    assert all(r["page_in"]["cold"] for r in doc["runs"])  # pages dropped before every run (not a tmpfs here)
    assert doc["init_trace"]["modules"][0]["module"] == "std"  # hello-go: only the standard library inits
    assert doc["network"] == {"mechanism": "network tracing turned off", "traced": False, "calls": []}
    assert doc["fidelity"]["init_cpu"] == doc["fidelity"]["cpu"]  # 1769 MB buys the allowance's 1 vCPU anyway
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.go
def test_markdown_from_a_zip_and_no_strace(go_build: GoBuilder, tmp_path: Path) -> None:
    package = tmp_path / "function.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.write(go_build("hello-go"), "bootstrap")
    no_strace = {"PATH": str(tmp_path / "empty-bin")}  # strace (and nothing else) cannot be found
    done = coldlab(str(package), *FAST, "--markdown", env=no_strace)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"### coldlab anatomy: `{package}` at 1769 MB (2 cold starts)")
    assert "| phase | owner | p50 ms | p90 ms | how | billed | what dominates |" in out
    assert "| code download | platform |" in out and "| modelled |" in out
    assert "_strace is not installed" not in out  # the note is about the network, printed as one:
    json_done = coldlab(str(package), *FAST, "--json", env=no_strace)
    doc = json.loads(json_done.stdout)
    assert doc["network"]["traced"] is False
    assert doc["network"]["mechanism"].startswith("strace is not installed")
    assert doc["binary"]["zipped_bytes"] == package.stat().st_size  # the zip as given, not one of ours


@pytest.mark.go
def test_another_architecture_is_refused_in_one_line(go_build: GoBuilder) -> None:
    code = go_build("hello-go", goarch="arm64").parent
    done = coldlab(str(code), *FAST)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"coldlab: error: {code}: `bootstrap` is built for arm64; this machine runs amd64 "
        "(rebuild with GOOS=linux GOARCH=amd64 to measure it here, or use --target aws:NAME)"
    ]
    assert done.stdout == ""


def test_another_os_and_bad_options_are_refused(tmp_path: Path) -> None:
    code = tmp_path / "macos"
    code.mkdir()
    (code / "bootstrap").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(64))
    (code / "bootstrap").chmod(0o755)
    done = coldlab(str(code), *FAST)
    assert done.returncode == 2
    assert "is a macOS (Mach-O) executable, not a Linux one" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    bad = coldlab(str(code), "--init-cpu", "lots")
    assert bad.returncode == 2 and "init CPU 'lots' is not an init CPU allowance" in bad.stderr
    neither = coldlab()
    assert neither.returncode == 2 and "no function given" in neither.stderr


def test_a_bootstrap_that_is_not_go_still_runs(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap(
        """
        while True:
            rid, _, _ = next_event()
            respond(rid, b'{"ok": true}')
        """
    )
    done = coldlab(str(code), *FAST, "--no-network", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["binary"]["go"] is False
    assert doc["binary"]["why_not_go"].startswith("not a Go binary (not an ELF file")
    phases = {p["id"]: p for p in doc["phases"]}
    assert phases["exec"]["name"] == "bootstrap exec to the first /next (not split)"
    assert phases["exec"]["p50_ms"] > 0
    for row in ("runtime_inits", "package_inits", "main_before_next"):
        assert phases[row]["p50_ms"] is None and phases[row]["empty"].startswith("not a Go binary")
    assert phases["first_request"]["p50_ms"] is not None


def test_an_init_that_fails_shows_the_phases_up_to_the_failure(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap(
        """
        print("loading the configuration failed: no such table", flush=True)
        sys.exit(3)
        """
    )
    done = coldlab(str(code), "--runs", "3", "--warm", "1", "--no-network", "--json")
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("coldlab: error: init failed in cold start 1 (Runtime.ExitError after ")
    assert "loading the configuration failed: no such table" in line
    doc = json.loads(done.stdout)
    assert doc["function"]["runs_done"] == 1  # the same init would fail again: not repeated
    assert doc["failure"]["error_type"] == "Runtime.ExitError"
    assert doc["failure"]["init_ms"] > 0
    phases = {p["id"]: p for p in doc["phases"]}
    assert phases["exec"]["p50_ms"] == pytest.approx(doc["failure"]["init_ms"], abs=0.01)
    assert phases["first_request"]["p50_ms"] is None and phases["first_request"]["empty"]


def test_an_init_that_hangs_is_cut_at_the_init_timeout(script_bootstrap: ScriptFactory) -> None:
    code = script_bootstrap("time.sleep(30)\n")
    spec = RunSpec(code, 1769, runs=2, warm=1, trace_network=False, init_timeout_s=0.5)
    result = asyncio.run(analyze(spec))
    failure = result.anatomy.failure
    assert failure is not None and failure.failure == "Sandbox.Timedout"
    assert failure.init_ms is not None and failure.init_ms >= 500
    assert len(result.measured.runs) == 1
