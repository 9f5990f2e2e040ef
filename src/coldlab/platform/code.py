"""Function code: a directory or a .zip with `bootstrap` at its root, extracted safely.

Zip rules follow Lambda's limits (reference §8): at most 250 MiB unzipped; a warning above 50 MiB zipped.
Entries with absolute paths, `..`, or links that point outside the package are refused.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coldlab.errors import CodeError

MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
WARN_ZIPPED_BYTES = 50 * 1024 * 1024
_LINK_TYPE = 0o120000


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
    """Open a code directory, or extract a zip into a private temporary directory."""
    if not path.exists():
        raise CodeError(f"code path {path} does not exist", "give a directory or a .zip holding `bootstrap`")
    if path.is_dir():
        return CodePackage(path.resolve(), _check_bootstrap(path.resolve(), path))
    if not zipfile.is_zipfile(path):
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
    target = Path(tempfile.mkdtemp(prefix="coldlab-code-"))
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
        with zipfile.ZipFile(archive) as bundle:
            infos = bundle.infolist()
            total = sum(info.file_size for info in infos)
            if total > MAX_UNZIPPED_BYTES:
                raise CodeError(
                    f"{archive} unzips to {total / 2**20:.1f} MiB; Lambda's limit is 250 MiB",
                    "shrink the package (strip the binary with -ldflags='-s -w', drop unused files)",
                )
            for info in infos:
                _extract_member(bundle, info, target, archive)
    except zipfile.BadZipFile as exc:
        raise CodeError(f"{archive} is not a valid zip file: {exc}", "rebuild the zip") from exc
    except OSError as exc:
        raise CodeError(f"could not extract {archive}: {exc}", "check the zip and free disk space") from exc


def _extract_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, archive: Path) -> None:
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts or info.filename.startswith(("/", "\\")):
        raise CodeError(
            f"{archive} has an unsafe entry {info.filename!r} (absolute path or '..')",
            "rebuild the zip with paths relative to its root",
        )
    destination = target.joinpath(*name.parts)
    mode = info.external_attr >> 16
    if stat.S_IFMT(mode) == _LINK_TYPE:
        link = bundle.read(info).decode("utf-8", "replace")
        resolved = (destination.parent / link).resolve()
        if PurePosixPath(link).is_absolute() or not resolved.is_relative_to(target.resolve()):
            raise CodeError(
                f"{archive} has a link {info.filename!r} -> {link!r} that points outside the package",
                "replace the link with the file it points to",
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.symlink_to(link)
        return
    if info.is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    with bundle.open(info) as source, destination.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    # Keep the permission bits the zip recorded (bootstrap must stay executable); default to rw-r--r--.
    destination.chmod((mode & 0o777) or 0o644)
