"""coldlab inspect on real Go binaries built in this test run, checked against the Go toolchain's own tools.

Module lists must equal `go version -m`, per-function sizes must equal `go tool nm -size`, the ledger must
sum to the file size, and the static init inventory must match what GODEBUG=inittrace=1 prints.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from coldlab.gotool import find_go
from coldlab.inspect.analyze import inspect_binary
from coldlab.inspect.buildinfo import format_go_version_m, read_buildinfo
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.inittrace import parse_lines
from coldlab.inspect.model import Report
from coldlab.inspect.moduledata import read_moduledata
from coldlab.inspect.pclntab import read_pclntab

pytestmark = pytest.mark.go

GOCODE = Path("/usr/share/gocode")
AWS_V2 = GOCODE / "src/github.com/aws/aws-sdk-go-v2/service/s3"

# name -> (package dir under examples/, GoBuild options)
BUILDS: dict[str, tuple[str, dict[str, Any]]] = {
    "hello-stripped": ("hello-go", {}),  # Lambda defaults: -s -w, -trimpath, lambda.norpc
    "hello-full": ("hello-go", {"strip": False, "trimpath": False, "tags": ()}),
    "hello-cgo": ("hello-go", {"cgo": True, "strip": False}),
    "hello-arm64": ("hello-go", {"goarch": "arm64", "strip": False}),
    "hello-arm64-stripped": ("hello-go", {"goarch": "arm64"}),
    "cgo-go": ("cgo-go", {"cgo": True, "strip": False}),
    "hello-pie": ("hello-go", {"env": {"GOFLAGS": "-mod=mod -buildmode=pie"}}),
    "heavy": ("heavy-go", {"gopath": GOCODE, "strip": False}),
}
UNSTRIPPED = [k for k, (_, o) in BUILDS.items() if o.get("strip") is False]


def _need(name: str) -> None:
    if name == "heavy" and not AWS_V2.is_dir():
        pytest.skip("golang-github-aws-aws-sdk-go-v2-dev is not installed (scripts/test installs it)")


@pytest.fixture(scope="module")
def built(go_build: Any) -> Any:
    cache: dict[str, tuple[Path, Report]] = {}

    def get(name: str) -> tuple[Path, Report]:
        _need(name)
        if name not in cache:
            package, options = BUILDS[name]
            path = go_build(package, **options)
            cache[name] = (path, inspect_binary(path))
        return cache[name]

    return get


def _go(*args: str) -> str:
    go = find_go()
    env = {**os.environ, "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(go), *args], capture_output=True, text=True, check=True, env=env).stdout


@pytest.mark.parametrize("name", list(BUILDS))
def test_ledger_sums_exactly_to_the_file_size(built: Any, name: str) -> None:
    path, report = built(name)
    assert sum(r.size for r in report.ledger) == path.stat().st_size == report.file_size
    assert all(r.size > 0 for r in report.ledger)
    for rollup in (report.modules, report.sections):
        assert sum(s.size for s in rollup) == report.file_size
    keys = [(r.section, r.kind, r.package) for r in report.ledger]
    assert len(keys) == len(set(keys))  # each owner appears once: no double counting


@pytest.mark.parametrize("name", list(BUILDS))
def test_module_list_equals_go_version_m(built: Any, name: str) -> None:
    path, _ = built(name)
    ours = format_go_version_m(read_buildinfo(ElfImage.open(path)))
    theirs = [
        line.strip("\t").rstrip()
        for line in _go("version", "-m", str(path)).splitlines()[1:]
        if line.strip().split("\t")[0] in ("path", "mod", "dep", "=>")
    ]
    assert [line.rstrip() for line in ours] == theirs
    info = read_buildinfo(ElfImage.open(path))
    assert info.go_version == _go("version", str(path)).split(": ", 1)[1].strip()


@pytest.mark.parametrize("name", UNSTRIPPED)
def test_function_sizes_equal_go_tool_nm(built: Any, name: str) -> None:
    path, _ = built(name)
    image = ElfImage.open(path)
    pcln = read_pclntab(image, 27)
    text = read_moduledata(image, pcln, 27).text
    nm: dict[int, int] = {}
    for line in _go("tool", "nm", "-size", "-type", str(path)).splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("T", "t") and int(parts[1]) > 0:
            nm.setdefault(int(parts[0], 16), int(parts[1]))
    checked = 0
    for name_, entry, size in zip(pcln.names, pcln.entry.tolist(), pcln.code_size.tolist(), strict=True):
        if size == 0:  # C functions carry no pc tables; their size comes from the symbol table only
            continue
        assert nm.get(text + entry) == size, name_
        checked += 1
    assert checked > 1000


def test_stripped_binary_is_fully_attributed(built: Any) -> None:
    _, report = built("hello-stripped")
    f = report.facts
    assert (f.symbols_stripped, f.dwarf_stripped, f.trimpath, f.cgo_enabled) == (True, True, True, False)
    assert not f.pie and not f.dynamically_linked
    assert f.goos == "linux" and f.goarch == "amd64" and f.arch_level == "GOAMD64=v1"
    assert f.build_tags == "lambda.norpc"
    assert f.lambda_rpc.startswith("not applicable")
    packages = {p.name: p for p in report.packages}
    assert packages["main"].module == "example.com/hello-go"
    assert packages["main"].detail["code"] > 0 and packages["runtime"].detail["code"] > 100_000
    assert {x.id for x in report.findings} == {"download-band", "lambda-limits"}
    assert 0 < report.zipped_size < report.file_size


def test_unstripped_no_trimpath_facts_and_findings(built: Any) -> None:
    _, report = built("hello-full")
    f = report.facts
    assert not f.symbols_stripped and not f.dwarf_stripped and not f.trimpath
    findings = {x.id: x for x in report.findings}
    dwarf = sum(r.size for r in report.ledger if r.kind == "DWARF")
    assert findings["dwarf"].saving == dwarf > 0
    assert findings["symbols"].saving > 0
    _, stripped = built("hello-stripped")
    assert report.file_size - stripped.file_size >= 0.8 * (
        findings["dwarf"].saving + findings["symbols"].saving
    )


@pytest.mark.parametrize("name", ["hello-cgo", "cgo-go"])
def test_cgo_is_detected(built: Any, name: str) -> None:
    _, report = built(name)
    f = report.facts
    assert f.cgo_enabled is True and f.dynamically_linked
    assert f.interpreter and "ld-linux" in f.interpreter
    assert "libc.so.6" in f.needed
    assert "cgo" in {x.id for x in report.findings}


def test_pie(built: Any) -> None:
    _, report = built("hello-pie")
    assert report.facts.pie and report.facts.cgo_enabled is False
    assert report.facts.dynamically_linked  # PIE needs the loader to relocate it
    assert "dynamic" in {x.id for x in report.findings}
    assert any(r.kind == "dynamic linking" for r in report.ledger)


def test_external_link_c_code_is_named(built: Any) -> None:
    _, report = built("cgo-go")  # gcc linked: C code sits in .text without Go metadata
    c_code = sum(r.size for r in report.ledger if r.kind == "code" and r.package == "(cgo/C)")
    assert c_code > 0


@pytest.mark.parametrize("name", ["hello-arm64", "hello-arm64-stripped"])
def test_arm64(built: Any, name: str) -> None:
    _, report = built(name)
    assert report.facts.goarch == "arm64"
    assert report.facts.arch_level is not None and report.facts.arch_level.startswith("GOARM64=")
    assert any(p.name == "main" for p in report.packages)
    assert report.init_packages


def test_heavy_aws_sdk_v2(built: Any) -> None:
    _, report = built("heavy")
    ids = {x.id: x for x in report.findings}
    services = ids["heavy:aws-sdk-go-v2-services"]
    for svc in ("s3", "dynamodb", "sqs"):
        assert f" {svc} " in f" {services.detail} "
    modules = {m.name for m in report.modules}
    assert "github.com/aws/aws-sdk-go-v2/service/s3" in modules  # GOPATH build: modules inferred from paths
    init = [i.package for i in report.init_packages or ()]
    assert "github.com/aws/aws-sdk-go-v2/service/s3/internal/endpoints" in init


@pytest.mark.parametrize("name", ["hello-full", "heavy"])
def test_static_init_inventory_matches_inittrace(built: Any, name: str) -> None:
    path, report = built(name)
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    env["GODEBUG"] = "inittrace=1"
    # without a Runtime API the function exits right after init, having printed the whole trace
    proc = subprocess.run([str(path)], capture_output=True, text=True, env=env, timeout=60, check=False)
    traced = [e.package for e in parse_lines(proc.stderr.splitlines())]
    assert traced, proc.stderr[-500:]
    assert report.init_packages is not None
    assert [i.package for i in report.init_packages] == traced


FIXTURE_GOPATH = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "gopath"


@pytest.mark.parametrize(("tags", "expected"), [((), "compiled in"), (("lambda.norpc",), "not compiled in")])
def test_lambda_rpc_mode(go_build: Any, tags: tuple[str, ...], expected: str) -> None:
    # a stand-in aws-lambda-go with the real package's build-tag split (net/rpc unless lambda.norpc)
    path = go_build(FIXTURE_GOPATH / "src" / "rpcfn", gopath=FIXTURE_GOPATH, tags=tags)
    report = inspect_binary(path)
    assert report.facts.lambda_rpc.startswith(expected)
    findings = {x.id: x for x in report.findings}
    if expected == "compiled in":
        rpc = findings["lambda-rpc"]
        net_rpc = sum(p.size for p in report.packages if p.name in ("net/rpc", "encoding/gob"))
        assert rpc.saving == net_rpc > 0
    else:
        assert "lambda-rpc" not in findings


def test_reflect_method_by_name_is_reported(go_build: Any) -> None:
    path = go_build(FIXTURE_GOPATH.parent / "dce")
    findings = {x.id: x for x in inspect_binary(path).findings}
    assert "reflect.Value.MethodByName" in findings["dce-disabled"].detail


def test_aws_sdk_v1_and_v2_together(go_build: Any) -> None:
    _need("heavy")
    gopath = f"{FIXTURE_GOPATH}{os.pathsep}{GOCODE}"  # stand-in v1 first, Debian's real v2 second
    path = go_build(FIXTURE_GOPATH / "src" / "bothsdk", gopath=GOCODE, env={"GOPATH": gopath})
    findings = {x.id: x for x in inspect_binary(path).findings}
    both = findings["aws-sdk-v1-and-v2"]
    assert both.bytes == both.saving > 0
    assert findings["heavy:aws-sdk-go-v1"].bytes == both.bytes
    assert "sqs" in findings["heavy:aws-sdk-go-v2-services"].detail


@pytest.mark.parametrize("name", ["hello-stripped", "hello-full", "hello-arm64-stripped"])
def test_type_descriptors_are_split_per_package(built: Any, name: str) -> None:
    _, report = built(name)  # Go 1.27: walked from moduledata.types like runtime.moduleTypelinks does
    types = {r.package: r.size for r in report.ledger if r.kind == "type data"}
    assert types.get("main", 0) > 0  # hello-go declares its own types (event, ...)
    assert types.get("net/http", 0) > 1000
    assert sum(types.values()) == sum(r.size for r in report.ledger if r.section == ".go.type")
