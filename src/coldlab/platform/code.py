"""Function code: a directory or a .zip with `bootstrap` at its root, extracted safely.

Zip rules follow Lambda's limits (reference §8): at most 250 MiB unzipped (bytes as written, not as the zip
claims); a warning above 50 MiB zipped. Extraction goes through `coldlab.unpack`, which never writes through a
link and refuses a package whose links lead outside it. A zip is extracted into a scratch directory named
after this process (`coldlab-code-<pid>-<start>-*`): the next coldlab removes it if this one is killed.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from coldlab import scratch
from coldlab.errors import CodeError
from coldlab.unpack import SizeLimitError, UnpackError
from coldlab.unzip import is_zip, unpack_zip

MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
WARN_ZIPPED_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class CodePackage:
    """A function's code, ready to run: `root` holds an executable `bootstrap`."""

    root: Path
    bootstrap: Path
    warnings: tuple[str, ...] = ()
    extracted: bool = False  # True when `root` is a temporary directory coldlab owns

    def cleanup(self) -> None:
        if self.extracted:
            shutil.rmtree(self.root, ignore_errors=True)


def load_code(path: Path) -> CodePackage:
    """Open a code directory, or extract a zip into a private scratch directory."""
    if not path.exists():
        raise CodeError(f"code path {path} does not exist", "give a directory or a .zip holding `bootstrap`")
    if path.is_dir():
        return CodePackage(path.resolve(), _check_bootstrap(path.resolve(), path))
    if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the read forever
        raise CodeError(f"{path} is not a regular file", "give a directory or a .zip holding `bootstrap`")
    if not is_zip(path):
        raise CodeError(
            f"{path} is neither a directory nor a zip file", "give a directory or a .zip holding `bootstrap`"
        )
    warnings = []
    zipped = path.stat().st_size
    if zipped > WARN_ZIPPED_BYTES:
        warnings.append(
            f"{path} is {zipped / 2**20:.1f} MiB zipped; Lambda refuses direct uploads above 50 MiB "
            "(use S3 or shrink the binary)"
        )
    scratch.remove_stale(scratch.CODE)  # what a killed coldlab left behind
    target = scratch.make_dir(scratch.CODE)
    try:
        _extract(path, target)
        return CodePackage(target, _check_bootstrap(target, path), tuple(warnings), extracted=True)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _check_bootstrap(root: Path, shown: Path) -> Path:
    bootstrap = root / "bootstrap"
    if not bootstrap.is_file():
        raise CodeError(
            f"no `bootstrap` file at the root of {shown}",
            "build your Go function as `bootstrap` (GOOS=linux go build -o bootstrap) and put it at the root",
        )
    if not os.access(bootstrap, os.X_OK):
        raise CodeError(f"`bootstrap` in {shown} is not executable", "run: chmod +x bootstrap")
    return bootstrap


def _extract(archive: Path, target: Path) -> None:
    try:
        unpack_zip(archive, target, max_bytes=MAX_UNZIPPED_BYTES, what="package")
    except SizeLimitError as exc:
        raise CodeError(
            f"{archive} unzips to more than {exc.limit / 2**20:g} MiB, Lambda's limit for unzipped code",
            "shrink the package (strip the binary with -ldflags='-s -w', drop unused files)",
        ) from exc
    except UnpackError as exc:
        raise CodeError(exc.message, exc.hint) from exc
