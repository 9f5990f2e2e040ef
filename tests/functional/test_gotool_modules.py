"""Module-mode builds of an aws-lambda-go example: the pinned module comes from the module proxy into the
module cache once; after that the build needs no network (GOPROXY=off)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from coldlab import gotool
from coldlab.errors import ToolchainError

pytestmark = pytest.mark.go

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-aws-lambda-go"


def test_download_once_then_build_offline(tmp_path: Path) -> None:
    mods = tmp_path / "go-mod"
    online = gotool.GoBuild(EXAMPLE, env={"GOMODCACHE": str(mods)})
    binary = gotool.build(online, tmp_path / "a" / "bootstrap")
    assert (mods / "github.com" / "aws" / "aws-lambda-go@v1.55.1" / "lambda" / "entry.go").is_file()
    info = subprocess.run(
        [str(gotool.find_go()), "version", "-m", str(binary)], capture_output=True, text=True, check=True
    ).stdout
    assert "\tdep\tgithub.com/aws/aws-lambda-go\tv1.55.1\th1:" in info  # the version go.sum pins
    offline = gotool.GoBuild(EXAMPLE, env={"GOMODCACHE": str(mods), "GOPROXY": "off"})
    assert gotool.build(offline, tmp_path / "b" / "bootstrap").is_file()


def test_offline_without_the_module_says_what_to_do(tmp_path: Path) -> None:
    empty = gotool.GoBuild(EXAMPLE, env={"GOMODCACHE": str(tmp_path / "empty"), "GOPROXY": "off"})
    with pytest.raises(ToolchainError) as caught:
        gotool.build(empty, tmp_path / "c" / "bootstrap")
    assert "module proxy could not be reached" in str(caught.value.hint)
