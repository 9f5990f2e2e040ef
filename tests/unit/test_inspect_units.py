"""Pure parts of the inspector: inittrace lines, build info text, names, sizes, diff, treemap, ledger partition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldlab.errors import UsageError
from coldlab.inspect.budgets import Budgets, check, parse_module_budget, parse_size
from coldlab.inspect.buildinfo import _parse_modinfo, _strip_sentinels, format_go_version_m
from coldlab.inspect.diff import diff
from coldlab.inspect.findings import band
from coldlab.inspect.html import Rect, squarify
from coldlab.inspect.inittrace import InitTrace, parse_lines
from coldlab.inspect.ledger import _Builder
from coldlab.inspect.names import ModuleMap, data_package, package_of

# Lines as the runtime prints them (reference §4.4: golang/go#41378, aws/aws-sdk-go#3717, grafana/agent#2061)
CAPTURED = """\
init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
init runtime @0.059 ms, 0.026 ms clock, 0 bytes, 0 allocs
some unrelated log line
init github.com/aws/aws-sdk-go/aws/endpoints @30 ms, 0.98 ms clock, 852984 bytes, 5396 allocs
2026-11-26T17:00:00Z init k8s.io/api/flowcontrol/v1beta1 @45587 ms, 373 ms clock, 172848 bytes, 59 allocs
init main @31ms, 12 ms clock, 415712 bytes, 3599 allocs
init broken @x ms, 1 ms clock, 2 bytes, 3 allocs
"""


def test_inittrace_lines_are_parsed_and_mapped_to_modules() -> None:
    info = _parse_modinfo(
        "go1.27.3",
        27,
        "path\texample.com/fn\nmod\texample.com/fn\t(devel)\t\n"
        "dep\tgithub.com/aws/aws-sdk-go\tv1.44.0\th1:x=\n",
    )
    entries = parse_lines(CAPTURED.splitlines(), ModuleMap(info))
    assert [e.package for e in entries] == [
        "internal/bytealg",
        "runtime",
        "github.com/aws/aws-sdk-go/aws/endpoints",
        "k8s.io/api/flowcontrol/v1beta1",
        "main",
    ]
    endpoints = entries[2]
    assert (endpoints.start_ms, endpoints.clock_ms, endpoints.bytes, endpoints.allocs) == (
        30,
        0.98,
        852984,
        5396,
    )
    assert endpoints.module == "github.com/aws/aws-sdk-go"
    assert entries[4].module == "example.com/fn" and entries[4].start_ms == 31  # the docs' "@#ms" spelling
    assert entries[0].module == "std"
    trace = InitTrace(entries, 420.0, "parsed")
    assert trace.clock_ms == pytest.approx(0.026 + 0.98 + 373 + 12)
    assert trace.slowest(1)[0].package == "k8s.io/api/flowcontrol/v1beta1"
    assert trace.allocs == 5396 + 59 + 3599


MODINFO = (
    "path\texample.com/fn/cmd\n"
    "mod\texample.com/fn\tv1.2.3\th1:abc=\n"
    "dep\tgithub.com/a/b\tv0.1.0\th1:def=\n"
    "dep\tgithub.com/c/d\tv1.0.0\n"
    "=>\tgithub.com/fork/d\tv1.0.1\th1:ghi=\n"
    'build\t-ldflags="-s -w -X main.v=1"\n'
    "build\t-tags=lambda.norpc\n"
    "build\tCGO_ENABLED=0\n"
    "build\tGOAMD64=v3\n"
)


def test_modinfo_grammar() -> None:
    info = _parse_modinfo("go1.22.1", 22, MODINFO)
    assert info.path == "example.com/fn/cmd"
    assert info.main is not None and (info.main.path, info.main.version, info.main.sum) == (
        "example.com/fn",
        "v1.2.3",
        "h1:abc=",
    )
    assert [d.path for d in info.deps] == ["github.com/a/b", "github.com/c/d"]
    replaced = info.deps[1].replace
    assert replaced is not None and replaced.path == "github.com/fork/d"
    assert info.setting("-ldflags") == "-s -w -X main.v=1"  # strconv.Quote'd values are unquoted
    assert info.setting("GOAMD64") == "v3"
    assert format_go_version_m(info) == MODINFO.splitlines()[:5]


def test_modinfo_sentinels() -> None:
    start, end = (
        b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6",
        b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2",
    )
    assert _strip_sentinels(start + b"path\tx\n" + end) == "path\tx\n"
    assert _strip_sentinels(b"too short") == ""


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("main.main.func1", "main"),
        (
            "github.com/aws/aws-sdk-go-v2/service/s3.(*Client).GetObject",
            "github.com/aws/aws-sdk-go-v2/service/s3",
        ),
        ("gopkg.in/yaml%2ev3.Unmarshal", "gopkg.in/yaml.v3"),
        ("slices.SortFunc[go.shape.struct { a.b int }]", "slices"),
        ("github.com/x/y.Map[go.shape.string,go.shape.int].Get", "github.com/x/y"),
        ("type:.eq.[2]interface {}", "(generated)"),
        ("go:buildid", "(generated)"),
        ("type..eq.net/http.Header", "(generated)"),  # Go 1.18-1.19 spellings
        ("type..hash.[2]string", "(generated)"),
        ("go.buildid", "(generated)"),
        ("go.uber.org/zap.(*Logger).Info", "go.uber.org/zap"),
        ("_rt0_amd64_linux", "(assembly, no package)"),
        ("x_cgo_init", "(cgo/C)"),
    ],
)
def test_package_of(name: str, package: str) -> None:
    assert package_of(name) == package


def test_data_package() -> None:
    assert data_package("type:*github.com/x/y.T") == "github.com/x/y"
    assert data_package("go:itab.*os.File,io.Reader") == "os"
    assert data_package("type:map[string]int") == "(generated)"
    assert data_package("runtime.firstmoduledata") == "runtime"
    assert data_package("type.*net/http.Request") == "net/http"  # Go 1.18-1.19 spellings
    assert data_package("go.itab.*os.File,io.Reader") == "os"
    assert data_package("type..namedata.*func()") == "(generated)"
    assert data_package("go.string.*") == "(generated)"


def test_module_map_longest_prefix_and_gopath_inference() -> None:
    info = _parse_modinfo(
        "go1.27.3",
        27,
        "path\tx/cmd\nmod\tx\t(devel)\t\ndep\tgithub.com/a/b\tv1\th\ndep\tgithub.com/a/b/v2\tv2\th\n",
    )
    mm = ModuleMap(info)
    assert mm.module_of("github.com/a/b/v2/sub").module == "github.com/a/b/v2"
    assert mm.module_of("github.com/a/b/sub").module == "github.com/a/b"
    assert mm.module_of("x/cmd").module == "x"  # a dotless main module is not mistaken for std
    assert mm.module_of("main").module == "x"
    assert mm.module_of("net/http").module == "std"
    gopath = ModuleMap(_parse_modinfo("go1.27.3", 27, "path\t_/src/fn\n"))
    s3 = gopath.module_of("github.com/aws/aws-sdk-go-v2/service/s3/internal/endpoints")
    assert s3.module == "github.com/aws/aws-sdk-go-v2/service/s3" and s3.inferred
    assert gopath.module_of("github.com/aws/smithy-go/middleware").module == "github.com/aws/smithy-go"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10MiB", 10 << 20),
        ("1.5MB", 1_500_000),
        ("4096", 4096),
        ("512 KiB", 512 << 10),
        ("2g", 2_000_000_000),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "ten", "5 parsecs", "-1", "1e3"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_module_budget_covers_nested_modules() -> None:
    assert parse_module_budget("github.com/aws/aws-sdk-go-v2=5MiB") == (
        "github.com/aws/aws-sdk-go-v2",
        5 << 20,
    )
    with pytest.raises(UsageError):
        parse_module_budget("5MiB")
    modules = {
        "github.com/aws/aws-sdk-go-v2/service/s3": 4 << 20,
        "github.com/aws/aws-sdk-go-v2": 2 << 20,
        "std": 1 << 20,
    }
    breaches = check(
        8 << 20,
        modules,
        Budgets(7 << 20, (("github.com/aws/aws-sdk-go-v2", 5 << 20), ("std", 2 << 20))),
        None,
    )
    assert [(b.budget, b.actual) for b in breaches] == [
        ("max-size", 8 << 20),
        ("max-module:github.com/aws/aws-sdk-go-v2", 6 << 20),
    ]
    trace = InitTrace((), 120.0, "success")
    assert [b.budget for b in check(1, {}, Budgets(max_init_ms=100), trace)] == ["max-init-ms"]
    assert check(1, {}, Budgets(max_init_ms=200), trace) == []


def test_download_bands() -> None:
    assert band(1 << 20)[1] == "~20 ms"
    assert band(6 << 20)[1] == "30-80 ms"
    assert band(30 << 20)[1] == "80-200 ms"
    assert band(60 << 20)[1] == "200 ms+"


def _doc(path: str, size: int, modules: dict[str, int]) -> dict[str, object]:
    rows = [{"name": k, "size": v} for k, v in modules.items()]
    return {"path": path, "file_size": size, "modules": rows, "packages": rows, "sections": rows}


def test_diff_reports_changed_modules_only() -> None:
    d = diff(_doc("old", 100, {"std": 60, "a": 40}), _doc("new", 130, {"std": 60, "a": 20, "b": 50}))
    assert d.new_size - d.old_size == 30
    assert [(r.name, r.change) for r in d.modules] == [("b", 50), ("a", -20)]
    assert d.to_json()["schema"] == "coldlab.inspect-diff/1"
    with pytest.raises(UsageError):
        diff({"path": "x"}, _doc("new", 1, {}))


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=60))
def test_squarify_tiles_the_box(sizes: list[int]) -> None:
    sizes.sort(reverse=True)
    box = Rect(0, 0, 1200, 700)
    rects = squarify(sizes, box)
    assert len(rects) == len(sizes)
    assert sum(r.w * r.h for r in rects) == pytest.approx(1200 * 700, rel=1e-6)
    for r, s in zip(rects, sizes, strict=True):
        assert r.w * r.h == pytest.approx(s / sum(sizes) * 1200 * 700, rel=1e-6, abs=1e-6)
        eps = 1e-3  # float error, far below a pixel
        assert r.x >= -eps and r.y >= -eps and r.x + r.w <= 1200 + eps and r.y + r.h <= 700 + eps


@given(st.lists(st.tuples(st.integers(-50, 1050), st.integers(0, 300), st.integers(0, 3)), max_size=40))
def test_ledger_partition_never_double_counts(intervals: list[tuple[int, int, int]]) -> None:
    b = _Builder(1000)
    owners = [b.owners.id("s", "k", str(i)) for i in range(4)]
    default = b.owners.id("s", "rest")
    starts = np.array([s for s, _, _ in intervals], dtype=np.int64)
    ends = starts + np.array([n for _, n, _ in intervals], dtype=np.int64)
    ids = np.array([owners[o] for _, _, o in intervals], dtype=np.int64)
    b.partition((100, 900), (starts, ends, ids), default)
    assert sum(b.totals.values()) == 800
    covered = np.zeros(1000, dtype=bool)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        lo, hi = max(s, 100), min(e, 900)
        if hi > lo:
            covered[lo:hi] = True
    assert b.totals.get(default, 0) == 800 - int(covered.sum())
