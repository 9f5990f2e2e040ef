"""gotool's build environments: module mode reaches the module proxy into coldlab's cache; GOPATH mode
stays offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldlab import gotool

GO = Path("/opt/go/bin/go")


def test_module_mode_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GOPROXY", "GOMODCACHE", "GOCACHE", "XDG_CACHE_HOME", "GOFLAGS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    env = gotool.GoBuild(tmp_path).environment(GO)
    assert env["GOPROXY"] == "https://proxy.golang.org,direct"
    assert env["GOMODCACHE"] == str(tmp_path / ".cache" / "coldlab" / "go-mod")
    assert env["GOCACHE"] == str(tmp_path / ".cache" / "go-build")
    assert env["GOFLAGS"] == "-mod=mod -modcacherw"
    assert env["GO111MODULE"] == "on"
    assert env["GOTOOLCHAIN"] == "local"
    assert env["PATH"].startswith(f"{GO.parent}:")


def test_module_mode_takes_the_users_proxy_and_caches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GOPROXY", "https://goproxy.example,direct")
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "mods"))
    monkeypatch.setenv("GOCACHE", str(tmp_path / "build"))
    env = gotool.GoBuild(tmp_path).environment(GO)
    assert env["GOPROXY"] == "https://goproxy.example,direct"
    assert env["GOMODCACHE"] == str(tmp_path / "mods")
    assert env["GOCACHE"] == str(tmp_path / "build")
    monkeypatch.delenv("GOMODCACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert gotool.GoBuild(tmp_path).environment(GO)["GOMODCACHE"] == str(
        tmp_path / "xdg" / "coldlab" / "go-mod"
    )


def test_gopath_mode_is_offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOPROXY", "https://goproxy.example")
    monkeypatch.delenv("GOMODCACHE", raising=False)
    env = gotool.GoBuild(tmp_path, gopath=tmp_path / "gopath").environment(GO)
    assert env["GOPROXY"] == "off"
    assert env["GO111MODULE"] == "off"
    assert env["GOPATH"] == str(tmp_path / "gopath")
    assert env["GOFLAGS"] == ""
    assert "GOMODCACHE" not in env  # no modules in GOPATH mode
