"""gomaxprocs_advice on real Go binaries: recognised by their build info, and warned about only when GOMAXPROCS
would exceed the vCPU the memory size buys AND the GOMAXPROCS truth table measured that as slower than
GOMAXPROCS=1 (benchmarks/gomaxprocs.py); the table is passed in to check both branches."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldlab.sandbox import Limits, gomaxprocs_advice
from coldlab.sandbox.gomaxprocs import (
    OVER_SCHEDULING_RATIO,
    TRUTH_TABLE,
    GoBinary,
    TruthRow,
    go_binary,
    predicted_gomaxprocs,
    truth_row,
    truth_table_pick,
)
from coldlab.sandbox.spawning import host_cpus
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


def table(ratio: float, picks: int | None = None) -> tuple[TruthRow, ...]:
    """A one-size table (per visibility) saying the default took `ratio` x as long as GOMAXPROCS=1."""
    p = picks or host_cpus()
    return tuple(TruthRow(128, visible, (p, p, p, 1), (ratio, ratio, 1.0, 1.0), 100.0) for visible in (False, True))


def test_go_binaries_are_recognised_with_their_version(go122: Path, go125: Path) -> None:
    old, new = go_binary(go122), go_binary(go125)
    assert old is not None and old.go_version.startswith("go1.") and not old.container_aware
    assert old.module_opted_out  # built by a Go 1.25+ toolchain, but its go line is older
    assert new is not None and new.container_aware and not new.module_opted_out  # stripped, still has buildinfo


def test_non_go_files_get_no_advice(tmp_path: Path) -> None:
    script = tmp_path / "bootstrap"
    script.write_text("#!/bin/sh\necho hi\n")
    assert go_binary(script) is None
    assert go_binary(Path("/bin/sh")) is None  # ELF, but not Go
    assert gomaxprocs_advice(script, Limits(128), {}) is None
    assert gomaxprocs_advice(tmp_path / "missing", Limits(128), {}) is None


def test_warned_with_the_measured_figure_when_it_was_slower(go122: Path) -> None:
    advice = gomaxprocs_advice(go122, Limits(128), {}, table=table(1.9))
    assert advice is not None
    assert f"GOMAXPROCS={host_cpus()}" in advice and "0.07 vCPU (128 MB)" in advice
    assert "go.mod declares a Go before 1.25" in advice
    assert "took 1.90x as long as with GOMAXPROCS=1 at 128 MB (quota hidden)" in advice
    assert "--env GOMAXPROCS=1" in advice


def test_not_warned_when_the_table_measured_no_cost(go122: Path, go125: Path) -> None:
    assert gomaxprocs_advice(go122, Limits(128), {}, table=table(1.0)) is None
    visible = Limits(128, cpu_visibility="leaf")  # Go 1.25+ reads it, and still picks 2: measured, not claimed
    assert gomaxprocs_advice(go125, visible, {}, table=table(1.02)) is None
    advice = gomaxprocs_advice(go125, visible, {}, table=table(1.5, picks=2))
    assert advice is not None and "(quota visible)" in advice and "never goes below 2" in advice


def test_the_shipped_table_decides_at_128_mb(go122: Path) -> None:
    row = truth_row(128, visible=False)
    advice = gomaxprocs_advice(go122, Limits(128), {})
    if row.pick("go1.24") == host_cpus() and row.ratio("go1.24") >= OVER_SCHEDULING_RATIO:
        assert advice is not None and f"{row.ratio('go1.24'):.2f}x" in advice
    elif row.pick("go1.24") == host_cpus():
        assert advice is None


def test_no_warning_when_gomaxprocs_fits(go122: Path) -> None:
    assert gomaxprocs_advice(go122, Limits(128), {"GOMAXPROCS": "1"}, table=table(3.0)) is None
    assert gomaxprocs_advice(go122, Limits(10240), {}, table=table(3.0)) is None  # 5.79 vCPU


def test_explicit_gomaxprocs_above_the_vcpu_is_warned_without_a_figure(go122: Path) -> None:
    advice = gomaxprocs_advice(go122, Limits(3538), {"GOMAXPROCS": "8"}, table=table(3.0))
    assert advice is not None and "GOMAXPROCS=8 (GOMAXPROCS=8 is set)" in advice
    assert "not measured for GOMAXPROCS=8" in advice


def test_prediction_follows_go_rules() -> None:
    aware, unaware = GoBinary("go1.27.3", True), GoBinary("go1.22.0", False)
    # Go 1.25+ sees a leaf quota but never goes below 2; a parent quota is invisible (Lambda's case).
    assert predicted_gomaxprocs(aware, Limits(128, cpu_visibility="leaf"), {}, cpus=8)[0] == 2
    assert predicted_gomaxprocs(aware, Limits(5000, cpu_visibility="leaf"), {}, cpus=8)[0] == 3
    assert predicted_gomaxprocs(aware, Limits(128), {}, cpus=8)[0] == 8
    assert predicted_gomaxprocs(unaware, Limits(128, cpu_visibility="leaf"), {}, cpus=8)[0] == 8
    off = {"GODEBUG": "containermaxprocs=0"}
    assert predicted_gomaxprocs(aware, Limits(128, cpu_visibility="leaf"), off, cpus=8)[0] == 8


def test_the_table_covers_every_size_both_ways_and_its_predictions_match_go_rules() -> None:
    assert {(r.memory_mb, r.visible) for r in TRUTH_TABLE} == {
        (mb, visible) for mb in (128, 512, 1024, 1769, 3008) for visible in (False, True)
    }
    for row in TRUTH_TABLE:
        assert row.pick("option2") == (1 if row.memory_mb < 1769 else row.pick("go1.24"))
        assert row.pick("go1.25") >= 2  # Go's container-aware default never goes below 2
    assert truth_table_pick("automaxprocs", 128, visible=True) == 1  # it rounds a visible quota down
    assert truth_table_pick("automaxprocs", 128, visible=False) == truth_table_pick("go1.24", 128, visible=False)
    assert truth_row(200, visible=False).memory_mb == 128 and truth_row(64, visible=False).memory_mb == 128
