"""The deployment package as Lambda gets it: its zip (made from a directory when given one), the measured
unzip, and the binary's page-in with a cold page cache.

Cold page cache: the bootstrap's pages are written back and dropped (posix_fadvise DONTNEED) before each run,
and mincore(2) says whether they really left; where they did not (a tmpfs, pages mapped elsewhere), the
anatomy says so instead of presenting a warm read as a cold one.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import mmap
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from coldlab import scratch
from coldlab.platform.code import CodePackage, load_code

KIND = "anatomy"  # scratch directories: coldlab-anatomy-<pid>-<start>-*
_PAGE = mmap.PAGESIZE


@dataclass(frozen=True)
class Package:
    """The zip a run unzips (ours in `workdir` when the user gave a directory) and its size."""

    zip_path: Path
    zipped_bytes: int
    workdir: Path

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass(frozen=True)
class Unzipped:
    code: CodePackage
    unzip_ms: float


@dataclass(frozen=True)
class PageIn:
    ms: float  # a sequential read of the whole binary after its pages were dropped
    dropped: bool  # mincore saw (almost) none of its pages resident before the read
    resident_before: float  # share of pages resident after the drop (0.0 = cold)


def package(path: Path) -> Package:
    """The deployment zip for `path` (a zip is used as it is; a directory is zipped, as Lambda gets it)."""
    scratch.remove_stale(KIND)
    workdir = scratch.make_dir(KIND)
    if not path.is_dir():
        return Package(path, path.stat().st_size, workdir)
    target = workdir / "package.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo.from_file(file, file.relative_to(path).as_posix())
            info.compress_type = zipfile.ZIP_DEFLATED  # from_file leaves it stored
            with file.open("rb") as source, bundle.open(info, "w") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    return Package(target, target.stat().st_size, workdir)


def unzip(pkg: Package) -> Unzipped:
    """Unzip the package as `coldlab invoke` does (safe extraction, Lambda's limits), timed."""
    started = time.perf_counter()
    code = load_code(pkg.zip_path)
    return Unzipped(code, (time.perf_counter() - started) * 1000)


def drop_pages(path: Path) -> None:
    """Write the file back and ask the kernel to forget its cached pages."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def resident_share(path: Path) -> float | None:
    """The share of the file's pages in the page cache (mincore), or None where it cannot be asked."""
    size = path.stat().st_size
    if size == 0:
        return 0.0
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    pages = (size + _PAGE - 1) // _PAGE
    vec = (ctypes.c_ubyte * pages)()
    with path.open("rb") as file, mmap.mmap(file.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        view = ctypes.c_char.from_buffer(mapped)
        try:
            if libc.mincore(ctypes.c_void_p(ctypes.addressof(view)), ctypes.c_size_t(size), vec) != 0:
                return None
            return sum(b & 1 for b in vec) / pages
        finally:
            del view  # the buffer export must end before the map closes


def page_in(path: Path) -> PageIn:
    """Drop the binary's pages, check they went, then time reading it back; drop them again for the exec."""
    drop_pages(path)
    share = resident_share(path)
    started = time.perf_counter()
    with path.open("rb", buffering=0) as file:
        while file.read(1 << 20):
            pass
    took = (time.perf_counter() - started) * 1000
    drop_pages(path)
    return PageIn(took, share is not None and share < 0.05, 1.0 if share is None else share)
