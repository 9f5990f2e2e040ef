"""Function code from a directory or a zip: safe extraction, clear errors, scratch directories named by owner."""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest

from coldlab import scratch
from coldlab.errors import CodeError
from coldlab.platform import code as code_module
from coldlab.platform.code import load_code

Entry = tuple[str, str, str | bytes]  # (name, "file" | "dir" | "link", data or link target)


def make_zip(path: Path, entries: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    return write_entries(
        path,
        [(n, "file", d) for n, d in entries.items()] + [(n, "link", t) for n, t in (links or {}).items()],
    )


def write_entries(path: Path, entries: list[Entry], *, file_mode: int = 0o755) -> Path:
    """A zip holding `entries` in the order given (links and directories as zip -y writes them)."""
    kinds = {"file": stat.S_IFREG | file_mode, "dir": stat.S_IFDIR | 0o755, "link": stat.S_IFLNK | 0o777}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, kind, data in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = kinds[kind] << 16
            bundle.writestr(info, data)
    return path


@pytest.fixture(autouse=True)
def scratch_under_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Packages are extracted under the test's own directory, where a test can see every leftover."""
    where = tmp_path / "scratch"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def test_zip_is_extracted_with_bootstrap_executable(tmp_path: Path) -> None:
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n", "lib/data.txt": b"x"}))
    try:
        assert package.bootstrap.read_bytes() == b"#!/bin/sh\n"
        assert package.bootstrap.stat().st_mode & 0o111
        assert (package.root / "lib" / "data.txt").read_bytes() == b"x"
    finally:
        package.cleanup()
    assert not package.root.exists()


def test_the_issue_s_link_chain_cannot_write_outside(tmp_path: Path, scratch_under_tmp: Path) -> None:
    # Issue 11, entry for entry: `a` resolves, once x and y are links to `.`, two levels above the package.
    # With the package at <tmp>/scratch/coldlab-code-*, `a/tmp/escaped.txt` is <tmp>/tmp/escaped.txt.
    archive = write_entries(
        tmp_path / "pkg.zip",
        [
            ("b", "link", "x/y/z/w"),
            ("a", "link", "b/../../../.."),
            ("z/", "dir", b""),
            ("z/w/", "dir", b""),
            ("x", "link", "."),
            ("y", "link", "."),
            ("a/tmp/escaped.txt", "file", b"escaped"),
            ("bootstrap", "file", b"#!/bin/sh\n"),
        ],
    )
    with pytest.raises(CodeError, match=r"pkg\.zip: entry 'a/tmp/escaped\.txt' lies under 'a'.*a link"):
        load_code(archive)
    assert not (tmp_path / "tmp").exists()
    assert list(scratch_under_tmp.iterdir()) == []  # the half-extracted package is gone too


def test_the_link_chain_alone_is_refused_as_leading_outside(tmp_path: Path) -> None:
    entries: list[Entry] = [
        ("b", "link", "x/y/z/w"),
        ("a", "link", "b/../../../.."),
        ("z/w/", "dir", b""),
        ("x", "link", "."),
        ("y", "link", "."),
        ("bootstrap", "file", b"#!/bin/sh\n"),
    ]
    with pytest.raises(CodeError, match=r"link 'a' -> 'b/\.\./\.\./\.\./\.\.' resolves outside the package"):
        load_code(write_entries(tmp_path / "pkg.zip", entries))


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/etc/evil", "\\evil"])
def test_zip_with_escaping_entry_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"x", name: b"x"})
    with pytest.raises(CodeError, match="unsafe entry"):
        load_code(archive)


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "lib/../.."])
def test_zip_link_escaping_the_package_is_refused(tmp_path: Path, target: str) -> None:
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"x", "lib/x": b""}, links={"secrets": target})
    with pytest.raises(CodeError, match="resolves outside the package"):
        load_code(archive)


def test_zip_links_inside_the_package_are_kept_even_in_loops(tmp_path: Path) -> None:
    links = {
        "alias": "real.txt",
        "lib/up": "../real.txt",
        "loop1": "loop2",
        "loop2": "loop1",
        "dangling": "nope",
    }
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"x", "real.txt": b"y"}, links=links))
    try:
        assert (package.root / "alias").read_bytes() == b"y"
        assert (package.root / "lib" / "up").read_bytes() == b"y"
        assert (package.root / "loop1").readlink() == Path("loop2")
        assert (package.root / "dangling").readlink() == Path("nope")
    finally:
        package.cleanup()


def test_permission_bits_are_kept_without_setuid_setgid_or_sticky(tmp_path: Path) -> None:
    archive = write_entries(tmp_path / "f.zip", [("bootstrap", "file", b"#!/bin/sh\n")], file_mode=0o7755)
    package = load_code(archive)
    try:
        assert stat.S_IMODE(package.bootstrap.stat().st_mode) == 0o755
    finally:
        package.cleanup()


def test_zip_over_250_mib_unzipped_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_module, "MAX_UNZIPPED_BYTES", 2**20)
    each_under_the_limit = {"bootstrap": b"x" * 600_000, "more": b"y" * 600_000}
    archive = make_zip(tmp_path / "f.zip", each_under_the_limit)
    with pytest.raises(CodeError, match=r"unzips to more than 1 MiB, Lambda's limit for unzipped code"):
        load_code(archive)


def test_the_limit_counts_bytes_written_not_the_size_the_zip_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(code_module, "MAX_UNZIPPED_BYTES", 1000)
    archive = make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n"})
    data = bytearray(archive.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10**9).to_bytes(4, "little")  # claims 1 GB uncompressed
    archive.write_bytes(bytes(data))
    package = load_code(archive)
    try:
        assert package.bootstrap.read_bytes() == b"#!/bin/sh\n"
    finally:
        package.cleanup()


def test_big_zip_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_module, "WARN_ZIPPED_BYTES", 10)
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n"}))
    package.cleanup()
    assert "refuses direct uploads above 50 MiB" in package.warnings[0]


def test_missing_bootstrap(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    with pytest.raises(CodeError, match="no `bootstrap` file at the root"):
        load_code(tmp_path / "code")


def test_bootstrap_not_executable(tmp_path: Path) -> None:
    (tmp_path / "bootstrap").write_text("#!/bin/sh\n")
    with pytest.raises(CodeError, match="not executable"):
        load_code(tmp_path)


def test_not_a_zip_truncated_zip_fifo_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_bytes(b"hello")
    with pytest.raises(CodeError, match="neither a directory nor a zip"):
        load_code(tmp_path / "f.txt")
    (tmp_path / "t.zip").write_bytes(b"PK\x03\x04 the rest is missing")
    with pytest.raises(CodeError, match="is truncated"):
        load_code(tmp_path / "t.zip")
    os.mkfifo(tmp_path / "fifo.zip")
    with pytest.raises(CodeError, match="not a regular file"):
        load_code(tmp_path / "fifo.zip")  # and does not block on opening it
    with pytest.raises(CodeError, match="does not exist"):
        load_code(tmp_path / "nope")


def test_extracted_packages_are_named_by_their_owner(tmp_path: Path, scratch_under_tmp: Path) -> None:
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n"}))
    try:
        assert package.root.parent == scratch_under_tmp
        assert package.root.name.startswith(f"coldlab-code-{os.getpid()}-")
        assert scratch.stale_dirs(scratch.CODE) == []  # its owner, this test, lives
    finally:
        package.cleanup()


def test_a_dead_owner_s_package_is_removed_by_the_next_extraction(
    tmp_path: Path, scratch_under_tmp: Path
) -> None:
    dead = scratch_under_tmp / "coldlab-code-999999999-12345-abcd"  # no such pid
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "bootstrap").write_bytes(b"x")
    other = scratch_under_tmp / "coldlab-code-notours"
    other.mkdir()
    package = load_code(make_zip(tmp_path / "f.zip", {"bootstrap": b"#!/bin/sh\n"}))
    package.cleanup()
    assert not dead.exists()
    assert other.exists()  # a name coldlab cannot judge is left alone


def test_a_reused_pid_or_a_link_is_not_taken_for_a_live_owner_s_directory(scratch_under_tmp: Path) -> None:
    me = os.getpid()
    mine = scratch.make_dir(scratch.CODE)
    reused = scratch_under_tmp / f"coldlab-code-{me}-1-abcd"  # this pid, but another start time
    reused.mkdir()
    link = scratch_under_tmp / "coldlab-code-999999999-1-link"
    link.symlink_to(mine)
    assert scratch.stale_dirs(scratch.CODE) == [reused]
    assert scratch.remove_stale(scratch.CODE) == [reused]
    assert mine.is_dir()
    assert link.is_symlink()


def test_doctor_s_sweep_takes_every_kind_the_code_sweep_only_packages(scratch_under_tmp: Path) -> None:
    layers = scratch_under_tmp / "coldlab-layers-999999999-1-abcd"
    code = scratch_under_tmp / "coldlab-code-999999999-1-abcd"
    layers.mkdir()
    code.mkdir()
    assert scratch.remove_stale(scratch.CODE) == [code]
    assert layers.exists()
    assert scratch.remove_stale() == [layers]
