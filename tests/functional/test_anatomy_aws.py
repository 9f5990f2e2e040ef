"""`coldlab anatomy --target aws:NAME --endpoint-url` against `coldlab serve` (which speaks the Lambda API): the
measured rows real Lambda can fill, from REPORT lines of forced cold starts, beside the local anatomy of the same
binary; the function's configuration is restored afterwards."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.runtime_scripts import GoBuilder
from support.serve import COLDLAB, ServeProcess, aws_env, code_dir, lambda_client

pytestmark = pytest.mark.go


def test_target_forces_cold_starts_and_sits_beside_the_local_anatomy(go_build: GoBuilder, tmp_path: Path) -> None:
    code = code_dir(go_build("hello-go"), tmp_path / "hello")
    with ServeProcess(str(code), "--memory", "256", cwd=tmp_path) as serve:
        done = subprocess.run(
            [*COLDLAB, "anatomy", str(code), "--target", "aws:hello", "--endpoint-url", serve.url,
             "--memory", "1769", "--runs", "2", "--warm", "1", "--no-network", "--json"],
            capture_output=True, text=True, timeout=300, check=False, env=aws_env(tmp_path),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        remote = doc["aws"]
        assert remote["cold_starts"] == 2 and remote["invocations"] == 3
        assert remote["memory_mb"] == 1769
        assert remote["init_duration_ms"]["p50_ms"] > 0 and remote["first_duration_ms"]["p50_ms"] > 0
        assert remote["warm_median_ms"] is not None and remote["first_request_extra_ms"] is not None
        assert remote["fidelity"]["cpu"] == f"lambda api at {serve.url} (not AWS)"
        assert serve.function("hello")["counts"]["cold_starts"] == 2
        config = lambda_client(serve.url).get_function_configuration(FunctionName="hello")
        assert config["MemorySize"] == 256 and "COLDLAB_TUNE_NONCE" not in config["Environment"]["Variables"]
        # the local anatomy of the same binary, in the same document
        assert doc["function"]["runs_done"] == 2 and doc["totals"]["init_duration_ms"]["measured_here"]


def test_an_unknown_function_is_one_line(tmp_path: Path, go_build: GoBuilder) -> None:
    code = code_dir(go_build("hello-go"), tmp_path / "hello")
    with ServeProcess(str(code), cwd=tmp_path) as serve:
        done = subprocess.run(
            [*COLDLAB, "anatomy", "--target", "aws:nope", "--endpoint-url", serve.url, "--runs", "1"],
            capture_output=True, text=True, timeout=120, check=False, env=aws_env(tmp_path),
        )  # fmt: skip
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("coldlab: error: AWS Lambda refused to read the function configuration for 'nope'")
