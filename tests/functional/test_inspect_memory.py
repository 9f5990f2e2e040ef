"""The inspector maps the binary and touches only the tables it parses: never code or DWARF contents.

A fresh interpreter maps the file with its code and DWARF pages made unreadable (PROT_NONE): any read of them
(a parser, or a deflate pass through the mapping) kills that process with SIGSEGV. Its report must equal the
one made from the file's bytes in memory. No timing and no RSS figures: the check is exact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from coldlab.inspect.analyze import inspect_binary, inspect_bytes
from coldlab.inspect.elf import ElfImage

pytestmark = [
    pytest.mark.go,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux mmap/mprotect"),
]

# Runs in a child: `mmap.mmap` is replaced by a subclass that maps privately (so ctypes can take the address)
# and protects every whole page of the given file ranges before the inspector sees the mapping.
GUARDED = r"""
import ctypes, json, mmap, sys
from pathlib import Path

path, ranges = Path(sys.argv[1]), json.loads(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
maps = []
_real = mmap.mmap


class Guarded(_real):
    def __new__(cls, fileno, length, *args, **kwargs):
        kwargs["access"] = mmap.ACCESS_COPY
        m = super().__new__(cls, fileno, length, *args, **kwargs)
        view = ctypes.c_char.from_buffer(m)
        base = ctypes.addressof(view)
        del view
        for start, end in ranges:
            lo = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
            hi = end // mmap.PAGESIZE * mmap.PAGESIZE
            if hi > lo and libc.mprotect(base + lo, hi - lo, 0) != 0:
                raise OSError(ctypes.get_errno(), "mprotect failed")
        maps.append(length)
        return m


mmap.mmap = Guarded
from dataclasses import asdict
from coldlab.inspect.analyze import inspect_binary

report = inspect_binary(path)
print(json.dumps({"maps": maps, "report": asdict(report)}))
"""


def _guarded_ranges(path: Path) -> tuple[list[tuple[int, int]], int]:
    """File ranges of executable sections and DWARF, and how many whole pages they cover."""
    with ElfImage.open(path) as image:
        ranges = [
            (s.offset, s.end)
            for s in image.sections
            if s.size and (s.flags & 0x4 or s.name.startswith((".debug_", ".zdebug_")))
        ]
    page = os.sysconf("SC_PAGE_SIZE")
    pages = sum(max(0, e // page - -(-s // page)) for s, e in ranges)
    return ranges, pages


def _inspect_guarded(path: Path, ranges: list[tuple[int, int]]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED, str(path), json.dumps(ranges)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode == -signal.SIGSEGV:
        pytest.fail(f"the inspector read code or DWARF bytes of {path.name} through its mapping (SIGSEGV)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "options", [{"strip": False, "trimpath": False, "tags": ()}, {}], ids=["full", "stripped"]
)
def test_code_and_dwarf_pages_are_never_read(go_build: Any, options: dict[str, Any]) -> None:
    path: Path = go_build("hello-go", **options)
    ranges, pages = _guarded_ranges(path)
    assert pages > 100  # the guard covers the code (and DWARF when present), not a token page
    guarded = _inspect_guarded(path, ranges)
    assert guarded["maps"] == [path.stat().st_size]  # the file was mapped, not read into memory whole
    # identical to the report made from the bytes in memory, zipped size included (pread vs memoryview)
    assert guarded["report"] == json.loads(json.dumps(asdict(inspect_bytes(path, path.read_bytes()))))


def test_released_pages_read_back_the_same(go_build: Any) -> None:
    path: Path = go_build("hello-go", strip=False)
    expected = inspect_binary(path)
    with ElfImage.open(path) as image:
        before = image.symbols().name(1)
        image.release(0, image.size)  # drop every mapped page: later reads fault them back in
        assert image.symbols().name(1) == before
    assert inspect_binary(path) == expected


def test_chunks_stream_the_file_in_bounded_pieces(go_build: Any) -> None:
    path: Path = go_build("hello-go")
    data = path.read_bytes()
    with ElfImage.open(path) as image:
        pieces = [bytes(p) for p in image.chunks(100, image.size - 7, size=1 << 16)]
    assert max(len(p) for p in pieces) == 1 << 16
    assert b"".join(pieces) == data[100:-7]
    with ElfImage(path, data) as in_memory:
        assert b"".join(bytes(p) for p in in_memory.chunks(100, len(data) - 7, size=1 << 16)) == data[100:-7]
