"""`coldlab invoke --layer` (a zip layer holding extension-go, started before the runtime, shut down after)
and the EMF a function prints, shown by `--json` (valid metrics and invalid lines reported, not dropped)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.extensions_go import EXTENSION, SIGTERM_FN, running, shared_dir, telemetry
from support.runtime_scripts import GoBuilder, write_script_bootstrap

EMF_OK = {
    "_aws": {
        "Timestamp": 1700000000000,
        "CloudWatchMetrics": [
            {
                "Namespace": "coldlab-test",
                "Dimensions": [["service"]],
                "Metrics": [{"Name": "ColdStart", "Unit": "Count"}],
            }
        ],
    },
    "service": "hello",
    "ColdStart": 1,
}
EMF_BAD = {
    "_aws": {
        "Timestamp": 1700000000000,
        "CloudWatchMetrics": [
            {"Namespace": "coldlab-test", "Metrics": [{"Name": "Latency", "Unit": "Parsecs"}]}
        ],
    },
    "Latency": 3,
}


def coldlab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldlab", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def shared() -> Iterator[Path]:
    yield from shared_dir()


def test_json_shows_the_emf_metrics_and_the_invalid_line(tmp_path: Path) -> None:
    code = write_script_bootstrap(
        tmp_path / "emf",
        f"""
        while True:
            rid, _, _ = next_event()
            print({json.dumps(json.dumps(EMF_OK))})
            print({json.dumps(json.dumps(EMF_BAD))})
            respond(rid, b'"ok"')
        """,
    )
    done = coldlab("invoke", str(code), "--json")
    assert done.returncode == 0, done.stderr
    (invocation,) = json.loads(done.stdout)["invocations"]
    valid, invalid = invocation["emf"]
    assert valid["valid"] is True
    (directive,) = valid["directives"]
    assert directive["namespace"] == "coldlab-test"
    assert directive["dimensions"] == [{"service": "hello"}]
    assert directive["metrics"] == [
        {"name": "ColdStart", "unit": "Count", "storage_resolution": 60, "values": [1.0]}
    ]
    assert (
        invocation["cold"] is True
    )  # coldlab's own cold/warm truth, beside the function's ColdStart counter
    assert invalid["valid"] is False and invalid["error"] == "EMFValidationErrors"
    assert "Parsecs" in invalid["message"]
    assert sum('"_aws"' in line for line in invocation["log_lines"]) == 2  # both stay in the log


def zip_layer(go_build: GoBuilder, where: Path) -> Path:
    archive = where / "layer.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        info = zipfile.ZipInfo(f"extensions/{EXTENSION}")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        bundle.writestr(info, go_build(EXTENSION).read_bytes())
        bundle.writestr("lib/README", "layers may carry libraries too\n")
    return archive


@pytest.mark.go
def test_a_zip_layer_brings_an_extension_that_flushes_at_the_end_of_the_run(
    go_build: GoBuilder, tmp_path: Path, shared: Path
) -> None:
    function = go_build(SIGTERM_FN).parent
    flush = shared / "ext.txt"
    before = set(Path(tempfile.gettempdir()).glob("coldlab-layers-*"))
    done = coldlab(
        "invoke", str(function), "--layer", str(zip_layer(go_build, tmp_path)), "--repeat", "2",
        "--env", f"EXTENSION_FLUSH_FILE={flush}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "EXTENSION\tName: extension-go\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in lines
    assert any(line.startswith("SHUTDOWN Reason: spindown\tBudget: 2000 ms") for line in lines)
    records = telemetry(flush)
    assert sum(r["type"] == "platform.report" for r in records) == 2
    assert flush.read_text().splitlines()[-1] == "shutdown spindown"
    assert running(EXTENSION) == []
    assert set(Path(tempfile.gettempdir()).glob("coldlab-layers-*")) <= before  # the extracted layer is gone


@pytest.mark.parametrize(
    ("layers", "words"),
    [
        (["missing-layer"], "layer missing-layer does not exist"),
        (["not-a-zip.txt"], "is neither a directory nor a zip file"),
        (["d"] * 6, "6 layers given; Lambda allows 5"),
    ],
)
def test_bad_layers_are_one_line_and_exit_2(
    go_build: GoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layers: list[str], words: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-zip.txt").write_text("hello")
    (tmp_path / "d").mkdir()
    function = tmp_path / "fn"
    shutil.copytree(go_build("hello-go").parent, function)
    done = coldlab("invoke", str(function), *[arg for layer in layers for arg in ("--layer", layer)])
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("coldlab: error: ") and words in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
