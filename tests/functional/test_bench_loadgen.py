"""benchmarks/loadgen, the serve throughput benchmark's load generator, counts what the server served."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.runtime_scripts import GoBuilder, write_script_bootstrap
from support.serve import ServeProcess

LOADGEN = Path(__file__).resolve().parents[2] / "benchmarks" / "loadgen"
ANSWER = """
while True:
    rid, headers, body = next_event()
    respond(rid, b"{}")
"""


def test_its_answered_and_throttled_counts_are_the_server_s(go_build: GoBuilder, tmp_path: Path) -> None:
    loadgen = go_build(LOADGEN, tags=())
    code = write_script_bootstrap(tmp_path / "answer", ANSWER)
    with ServeProcess(str(code), "--max-concurrency", "1", cwd=tmp_path) as server:
        server.wait_listening()
        url = f"{server.url}/2015-03-31/functions/answer/invocations"
        out = subprocess.run(
            [str(loadgen), "-url", url, "-clients", "3", "-seconds", "1"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        counts = json.loads(out.stdout)
        served = server.function("answer")["counts"]
        assert counts["errors"] == 0
        assert counts["ok"] > 0 and counts["throttled"] > 0  # three clients, one environment
        assert counts["ok"] == served["invokes"]
        assert counts["throttled"] == served["throttles"]
        assert 0.9 < counts["seconds"] < 30
