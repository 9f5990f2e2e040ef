"""`coldlab tune --target aws:NAME --endpoint-url` against `coldlab serve`: the AWS backend end to end, with
boto3 (UpdateFunctionConfiguration, the update waiter, Invoke with Tail, REPORT parsing) and a real server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.runtime_scripts import GoBuilder
from support.serve import COLDLAB, ServeProcess, aws_env, code_dir, lambda_client

pytestmark = pytest.mark.go


def test_tune_runs_unchanged_against_serve(go_build: GoBuilder, tmp_path: Path) -> None:
    code = code_dir(go_build("hello-go"), tmp_path / "hello")
    with ServeProcess(str(code), "--memory", "256", cwd=tmp_path) as serve:
        done = subprocess.run(
            [*COLDLAB, "tune", "--target", "aws:hello", "--endpoint-url", serve.url,
             "--memory", "128,512", "-n", "3", "--cold", "2", "--json"],
            capture_output=True, text=True, timeout=300, check=False, env={**aws_env(tmp_path), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        sizes = {row["memory_mb"]: row for row in document["analysis"]["sizes"]}
        assert sorted(sizes) == [128, 512]
        # every size ran on fresh environments first: 2 cold starts per size, as --cold asked
        function = serve.function("hello")
        assert function["counts"]["cold_starts"] == 4
        assert function["memory_mb"] == 256  # restored afterwards
        config = lambda_client(serve.url).get_function_configuration(FunctionName="hello")
        assert "COLDLAB_TUNE_NONCE" not in config["Environment"]["Variables"]
        assert document["fidelity"]["128"]["cpu"] == f"lambda api at {serve.url} (not AWS)"
