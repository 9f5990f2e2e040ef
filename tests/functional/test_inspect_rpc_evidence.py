"""aws-lambda-go's RPC mode is decided from what really tells (issue 10 item 6): the -tags build setting and
aws-lambda-go's RPC entry functions, not net/rpc linkage, which the function's own code may bring.

The fixture is a real aws-lambda-go v1.55.1 function (module mode, from the Go module proxy) whose own code
registers a net/rpc service, built in this run with and without -tags lambda.norpc, stripped and not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from coldlab.inspect.analyze import inspect_binary

pytestmark = pytest.mark.go

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "rpc-evidence"
ENTRY = "github.com/aws/aws-lambda-go/lambda.startFunctionRPC"


def _build(go_build: Any, *, norpc: bool, strip: bool) -> Path:
    path: Path = go_build(FIXTURE, tags=("lambda.norpc",) if norpc else (), strip=strip)
    return path


@pytest.mark.parametrize("strip", [True, False], ids=["stripped", "unstripped"])
def test_norpc_build_that_links_net_rpc_itself_is_not_rpc(go_build: Any, strip: bool) -> None:
    report = inspect_binary(_build(go_build, norpc=True, strip=strip))
    packages = {p.name for p in report.packages}
    assert "net/rpc" in packages  # the function's own net/rpc service: what fooled the old check
    assert report.facts.lambda_rpc == "not compiled in (lambda.norpc)"
    assert report.facts.lambda_rpc_evidence.startswith("build setting -tags=lambda.norpc")
    assert "lambda-rpc" not in {f.id for f in report.findings}


@pytest.mark.parametrize("strip", [True, False], ids=["stripped", "unstripped"])
def test_rpc_build_is_decided_by_the_entry_function(go_build: Any, strip: bool) -> None:
    report = inspect_binary(_build(go_build, norpc=False, strip=strip))
    assert report.facts.build_tags is None
    assert report.facts.lambda_rpc.startswith("compiled in")
    assert ENTRY in report.facts.lambda_rpc_evidence  # pclntab names survive -s -w
    finding = {f.id: f for f in report.findings}["lambda-rpc"]
    assert ENTRY in finding.detail


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldlab", "inspect", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_text_and_json_say_which_evidence_was_used(go_build: Any) -> None:
    norpc = _build(go_build, norpc=True, strip=True)
    text = _cli(norpc)
    assert text.returncode == 0, text.stderr
    out = " ".join((text.stdout + text.stderr).split())  # rich may wrap the line
    assert (
        "Lambda RPC mode: not compiled in (lambda.norpc) (evidence: build setting -tags=lambda.norpc" in out
    )
    doc = json.loads(_cli(_build(go_build, norpc=False, strip=True), "--json").stdout)
    assert doc["facts"]["lambda_rpc"].startswith("compiled in")
    assert ENTRY in doc["facts"]["lambda_rpc_evidence"]
