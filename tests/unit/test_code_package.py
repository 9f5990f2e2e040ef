"""Function code from a directory or a zip: safe extraction and clear errors."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from coldlab.errors import CodeError
from coldlab.platform import code as code_module
from coldlab.platform.code import load_code


def make_zip(path: Path, entries: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            bundle.writestr(info, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def test_zip_is_extracted_with_bootstrap_executable(tmp_path: Path) -> None:
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n", "lib/data.txt": b"x"}))
    try:
        assert package.bootstrap.read_bytes() == b"#!/bin/sh\n"
        assert package.bootstrap.stat().st_mode & 0o111
        assert (package.root / "lib" / "data.txt").read_bytes() == b"x"
    finally:
        package.cleanup()
    assert not package.root.exists()


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/etc/evil"])
def test_zip_with_escaping_entry_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"x", name: b"x"})
    with pytest.raises(CodeError, match="unsafe entry"):
        load_code(archive)


def test_zip_link_escaping_the_package_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"x"}, links={"secrets": "../../etc/passwd"})
    with pytest.raises(CodeError, match="points outside the package"):
        load_code(archive)


def test_zip_link_inside_the_package_is_kept(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"x", "real.txt": b"y"}, links={"alias": "real.txt"})
    package = load_code(archive)
    try:
        assert (package.root / "alias").read_bytes() == b"y"
    finally:
        package.cleanup()


def test_zip_over_250_mib_unzipped_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_module, "MAX_UNZIPPED_BYTES", 1000)
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"x" * 2000})
    with pytest.raises(CodeError, match="Lambda's limit is 250 MiB"):
        load_code(archive)


def test_big_zip_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_module, "WARN_ZIPPED_BYTES", 10)
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n"}))
    package.cleanup()
    assert "refuses direct uploads above 50 MiB" in package.warnings[0]


def test_missing_bootstrap(tmp_path: Path) -> None:
    with pytest.raises(CodeError, match="no `bootstrap` file at the root"):
        load_code(tmp_path)


def test_bootstrap_not_executable(tmp_path: Path) -> None:
    (tmp_path / "bootstrap").write_text("#!/bin/sh\n")
    with pytest.raises(CodeError, match="not executable"):
        load_code(tmp_path)


def test_broken_zip_and_missing_path(tmp_path: Path) -> None:
    broken = tmp_path / "f.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CodeError, match="neither a directory nor a zip"):
        load_code(broken)
    with pytest.raises(CodeError, match="does not exist"):
        load_code(tmp_path / "nope")
