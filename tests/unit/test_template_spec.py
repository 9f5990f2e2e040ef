"""spec_from_path: `coldlab serve DIR|ZIP` names a function after its path and takes memory and timeout."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from coldlab.errors import CodeError, UsageError
from coldlab.platform.spec import FunctionSpec, sanitise_name, spec_from_path


def test_a_directory_is_named_after_itself(tmp_path: Path) -> None:
    code = tmp_path / "orders-api"
    code.mkdir()
    (code / "bootstrap").write_text("")
    spec = spec_from_path(code, memory_mb=512, timeout_s=20)
    assert isinstance(spec, FunctionSpec)
    assert (spec.name, spec.logical_id, spec.config.function_name) == (
        "orders-api",
        "orders-api",
        "orders-api",
    )
    assert (spec.config.memory_mb, spec.config.timeout_s, spec.config.code) == (512, 20, code)
    assert (spec.alias, spec.function_url, spec.routes, spec.source) == (None, None, (), str(code))


def test_a_zip_is_named_after_its_stem_sanitised(tmp_path: Path) -> None:
    bundle = tmp_path / "my fn.v2.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("bootstrap", "")
    spec = spec_from_path(bundle, memory_mb=128, timeout_s=3)
    assert spec.name == "my-fn-v2"
    assert spec.config.code == bundle
    assert spec_from_path(bundle, memory_mb=128, timeout_s=3, name="chosen").name == "chosen"


def test_sanitise_name_keeps_lambdas_alphabet_and_length() -> None:
    assert sanitise_name("hello_go") == "hello_go"
    assert sanitise_name("..hello world!!") == "hello-world"
    assert sanitise_name("x" * 80) == "x" * 64
    assert sanitise_name("***") == "function"


def test_bad_paths_and_values_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(CodeError, match="does not exist"):
        spec_from_path(tmp_path / "missing", memory_mb=128, timeout_s=3)
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "bootstrap").write_text("")
    with pytest.raises(UsageError, match="memory size 100 MB is out of range"):
        spec_from_path(tmp_path / "fn", memory_mb=100, timeout_s=3)
    with pytest.raises(UsageError, match="function name 'a b' is invalid"):
        spec_from_path(tmp_path / "fn", memory_mb=128, timeout_s=3, name="a b")
