"""Property tests: no archive, however its links chain and loop, creates or changes anything outside the target;
no damaged zip reaches a traceback."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coldlab.errors import CodeError
from coldlab.platform.code import load_code
from coldlab.unpack import UnpackError
from coldlab.unzip import unpack_zip

# Names that collide often (so links, files and directories land on each other's paths), plus names that
# exist in the sandbox parent around the target, so that relative links can aim at real things outside.
NAMES = ("a", "b", "c", "d", "target", "outside", "victim")
name_part = st.sampled_from(NAMES) | st.sampled_from(("..", ".", ""))
clean_name = st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map("/".join)
dotted_name = st.lists(st.sampled_from((*NAMES, ".", "")), min_size=1, max_size=3).map("/".join)
unsafe_name = st.sampled_from(("..", "../victim", "a/../../outside/victim", "/victim"))
# One entry in ~20 is unsafe: any one refuses the whole archive, so more would hide the link cases.
entry_name = st.integers(0, 19).flatmap(
    lambda n: unsafe_name if n == 0 else dotted_name if n < 4 else clean_name
)
relative_target = st.lists(name_part, min_size=1, max_size=6).map("/".join)


PARENT = "@PARENT@"  # replaced by the sandbox parent's path when the example runs
# Relative (chains, loops, `..`) most of the time; absolute (always into the sandbox parent) sometimes.
link_target = st.one_of(
    relative_target,
    relative_target,
    st.sampled_from((PARENT, f"{PARENT}/outside", f"{PARENT}/outside/victim", f"{PARENT}/target/a")),
)

Entry = tuple[str, str, str]  # name, kind, data (file contents or link target)


@st.composite
def archives(draw: st.DrawFn) -> list[Entry]:
    """Zip entries in the order they are written: files, directories and links, duplicates and all."""
    kinds = st.sampled_from(("file", "dir", "link", "link"))
    entries: list[Entry] = []
    for index, (name, kind) in enumerate(
        draw(st.lists(st.tuples(entry_name, kinds), min_size=1, max_size=10))
    ):
        if kind == "link":
            entries.append((name, kind, draw(link_target)))
        else:
            entries.append((name + "/" if kind == "dir" else name, kind, f"{name}#{index}"))
    return entries


def write_zip(path: Path, entries: list[Entry]) -> None:
    modes = {"file": stat.S_IFREG | 0o644, "dir": stat.S_IFDIR | 0o755, "link": stat.S_IFLNK | 0o777}
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        warnings.simplefilter("ignore")  # duplicate names are part of the test
        for name, kind, data in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = modes[kind] << 16
            bundle.writestr(info, "" if kind == "dir" else data)


def snapshot(parent: Path, skip: Path) -> dict[str, tuple[object, ...]]:
    """Everything under `parent` except `skip`, with what would change if anything wrote there."""
    seen: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(parent):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        info = here.lstat()
        seen[str(here)] = ("dir", info.st_mode, info.st_nlink, info.st_mtime_ns, sorted(dirnames + filenames))
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            path = here / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                seen[str(path)] = ("link", str(path.readlink()))
            else:
                seen[str(path)] = (
                    "file",
                    info.st_mode,
                    info.st_mtime_ns,
                    hashlib.sha256(path.read_bytes()).digest(),
                )
    return seen


def normal(name: str) -> tuple[str, ...]:
    return tuple(part for part in name.split("/") if part not in ("", "."))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(archives())
def test_nothing_outside_the_target_is_ever_created_or_changed(drawn: list[Entry]) -> None:
    parent = Path(tempfile.mkdtemp(prefix="coldlab-unpack-test-"))
    entries = [(name, kind, data.replace(PARENT, str(parent))) for name, kind, data in drawn]
    try:
        (parent / "outside").mkdir()
        (parent / "outside" / "victim").write_text("intact")
        (parent / "victim").write_text("intact")
        target = parent / "target"
        target.mkdir()
        archive = parent / "pkg.zip"
        write_zip(archive, entries)
        before = snapshot(parent, target)
        refusal = ""
        try:
            unpack_zip(archive, target, max_bytes=10**6)
        except UnpackError as refused:
            refusal = str(refused)
        assert snapshot(parent, target) == before
        if refusal:
            assert "\n" not in refusal
            assert refusal.startswith(str(archive))
        else:
            check_success(target, entries)
    finally:
        shutil.rmtree(parent)


def loops(path: Path) -> bool:
    """Whether the kernel gives up on `path` (ELOOP): it then reaches nothing, though os.path.realpath,
    which stops at the loop and walks the rest by name, may say otherwise (`a -> a/../..`)."""
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def check_success(target: Path, entries: list[Entry]) -> None:
    """Every link resolves inside; every path holds the last entry of its name (a file its data)."""
    real_target = os.path.realpath(target)
    for dirpath, dirnames, filenames in os.walk(target):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink() and not loops(path):
                assert os.path.commonpath([os.path.realpath(path), real_target]) == real_target, path
    last: dict[tuple[str, ...], Entry] = {normal(e[0]): e for e in entries if normal(e[0])}
    for parts, (name, kind, data) in last.items():
        written = target.joinpath(*parts)
        if kind == "file" and not name.endswith("/"):  # a zip entry named `x/` is a directory
            assert stat.S_ISREG(written.lstat().st_mode)
            assert written.read_text() == data
        elif kind == "link":
            assert os.readlink(written) == data  # noqa: PTH115 (Path.readlink would normalise the target)
        else:
            assert stat.S_ISDIR(written.lstat().st_mode)


# --- damaged bytes -----------------------------------------------------------------------------------------


def valid_package() -> bytes:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "pkg.zip"
        with zipfile.ZipFile(path, "w") as bundle:
            for name, data, method, mode in [
                ("bootstrap", b"#!/bin/sh\necho hi\n" * 40, zipfile.ZIP_DEFLATED, stat.S_IFREG | 0o755),
                ("lib/", b"", zipfile.ZIP_STORED, stat.S_IFDIR | 0o755),
                ("lib/data.txt", b"stored data", zipfile.ZIP_STORED, stat.S_IFREG | 0o644),
                ("lib/alias", b"data.txt", zipfile.ZIP_STORED, stat.S_IFLNK | 0o777),
                ("big.bin", bytes(range(256)) * 20, zipfile.ZIP_BZIP2, stat.S_IFREG | 0o644),
            ]:
                info = zipfile.ZipInfo(name)
                info.external_attr = mode << 16
                info.compress_type = method
                bundle.writestr(info, data)
        return path.read_bytes()


VALID = valid_package()


@pytest.fixture(scope="module")
def scratch_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("scratch")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(where))
        yield where


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
    cut=st.none() | st.integers(0, len(VALID)),
)
def test_damaged_zip_bytes_are_one_line_or_a_package(
    scratch_dir: Path, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(VALID)
    for offset, value in flips:
        data[offset] = value
    with tempfile.TemporaryDirectory() as where:
        archive = Path(where) / "pkg.zip"
        archive.write_bytes(bytes(data[:cut]))
        refusal: CodeError | None = None
        try:
            load_code(archive).cleanup()
        except CodeError as refused:
            refusal = refused
    if refusal is not None:
        assert "\n" not in str(refusal)
        assert refusal.exit_code == 2
    assert list(scratch_dir.iterdir()) == []  # nothing extracted is left behind, refused or not
