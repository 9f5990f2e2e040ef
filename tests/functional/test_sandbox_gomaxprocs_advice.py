"""gomaxprocs_advice on real Go binaries: recognised by their build info, warned about only when GOMAXPROCS
would exceed the vCPU the memory size buys."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldlab.sandbox import Limits, gomaxprocs_advice
from coldlab.sandbox.gomaxprocs import GoBinary, go_binary, predicted_gomaxprocs
from support.runtime_scripts import GoBuilder

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def go122(go_build: GoBuilder) -> Path:
    return go_build("gomaxprocs-go")  # go.mod says go 1.22: the runtime ignores CPU quotas


@pytest.fixture(scope="module")
def go125(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    package = tmp_path_factory.mktemp("go125")
    (package / "go.mod").write_text("module example.com/aware\n\ngo 1.25\n")
    (package / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n')
    return go_build(package, strip=True)


def test_go_binaries_are_recognised_with_their_version(go122: Path, go125: Path) -> None:
    old, new = go_binary(go122), go_binary(go125)
    assert old is not None and old.go_version.startswith("go1.") and not old.container_aware
    assert new is not None and new.container_aware  # stripped, still has .go.buildinfo


def test_non_go_files_get_no_advice(tmp_path: Path) -> None:
    script = tmp_path / "bootstrap"
    script.write_text("#!/bin/sh\necho hi\n")
    assert go_binary(script) is None
    assert go_binary(Path("/bin/sh")) is None  # ELF, but not Go
    assert gomaxprocs_advice(script, Limits(128), {}) is None
    assert gomaxprocs_advice(tmp_path / "missing", Limits(128), {}) is None


def test_small_memory_go_function_is_warned(go122: Path) -> None:
    advice = gomaxprocs_advice(go122, Limits(128), {})
    assert advice is not None
    assert "GOMAXPROCS=" in advice and "0.07 vCPU (128 MB)" in advice and "--env GOMAXPROCS=1" in advice


def test_no_warning_when_gomaxprocs_fits(go122: Path) -> None:
    assert gomaxprocs_advice(go122, Limits(128), {"GOMAXPROCS": "1"}) is None
    assert gomaxprocs_advice(go122, Limits(10240), {}) is None  # 5.79 vCPU: more than this machine's CPUs


def test_explicit_gomaxprocs_above_the_vcpu_is_warned(go122: Path) -> None:
    advice = gomaxprocs_advice(go122, Limits(3538), {"GOMAXPROCS": "8"})
    assert advice is not None and "GOMAXPROCS=8 (GOMAXPROCS=8 is set)" in advice


def test_prediction_follows_go_rules() -> None:
    aware, unaware = GoBinary("go1.27.3", True), GoBinary("go1.22.0", False)
    # Go 1.25+ sees a leaf quota but never goes below 2; a parent quota is invisible (Lambda's case).
    assert predicted_gomaxprocs(aware, Limits(128, cpu_visibility="leaf"), {}, cpus=8)[0] == 2
    assert predicted_gomaxprocs(aware, Limits(5000, cpu_visibility="leaf"), {}, cpus=8)[0] == 3
    assert predicted_gomaxprocs(aware, Limits(128), {}, cpus=8)[0] == 8
    assert predicted_gomaxprocs(unaware, Limits(128, cpu_visibility="leaf"), {}, cpus=8)[0] == 8
    off = {"GODEBUG": "containermaxprocs=0"}
    assert predicted_gomaxprocs(aware, Limits(128, cpu_visibility="leaf"), off, cpus=8)[0] == 8
