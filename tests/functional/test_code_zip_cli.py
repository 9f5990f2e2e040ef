"""`coldlab invoke pkg.zip` as a user runs it, on zips that are hostile or damaged: one line, exit 2, nothing
written anywhere, nothing left behind."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

COLDLAB = [sys.executable, "-m", "coldlab"]


def invoke(archive: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    scratch.mkdir(exist_ok=True)
    return subprocess.run(
        [*COLDLAB, "invoke", str(archive)],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=60,
        check=False,
    )


def write_entries(path: Path, entries: list[tuple[str, int, str]]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, mode, data in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, data)
    return path


def test_the_issue_s_link_chain_exits_2_and_writes_nothing_outside(tmp_path: Path) -> None:
    link, folder, file = stat.S_IFLNK | 0o777, stat.S_IFDIR | 0o755, stat.S_IFREG | 0o755
    archive = write_entries(
        tmp_path / "pkg.zip",
        [
            ("b", link, "x/y/z/w"),
            ("a", link, "b/../../../.."),
            ("z/", folder, ""),
            ("z/w/", folder, ""),
            ("x", link, "."),
            ("y", link, "."),
            ("a/tmp/escaped.txt", file, "escaped"),
            ("bootstrap", file, "#!/bin/sh\n"),
        ],
    )
    # The package goes to <tmp>/scratch/coldlab-code-*: `a` is <tmp>, so the canary is <tmp>/tmp/escaped.txt.
    result = invoke(archive, tmp_path / "scratch")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"coldlab: error: {archive}: entry 'a/tmp/escaped.txt' lies under 'a'")
    assert not (tmp_path / "tmp").exists()
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_damaged_zip_exits_2_with_one_line(tmp_path: Path) -> None:
    archive = write_entries(tmp_path / "pkg.zip", [("bootstrap", stat.S_IFREG | 0o755, "#!/bin/sh\n" * 100)])
    data = bytearray(archive.read_bytes())
    data[39 : 39 + 8] = b"\xff" * 8  # the deflate stream, after the 30-byte header and the name
    archive.write_bytes(bytes(data))
    result = invoke(archive, tmp_path / "scratch")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"coldlab: error: {archive}: entry 'bootstrap' has damaged compressed data (Error -3 while decompressing "
        "data: invalid block type) (copy or download the zip again, or rebuild it)"
    ]
    truncated = tmp_path / "cut.zip"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    result = invoke(truncated, tmp_path / "scratch")
    assert result.returncode == 2
    assert result.stderr.startswith(f"coldlab: error: {truncated} is truncated")
    assert list((tmp_path / "scratch").iterdir()) == []
