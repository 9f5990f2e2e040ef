"""Layers and the external extensions they carry: what Lambda puts at /opt, and what it starts before the
runtime.

Each layer (a directory, or a .zip extracted through coldlab.unpack, the safe unpacker) is laid over the
previous ones in order, as Lambda extracts them into /opt; where the host isolates, the result is mounted
read-only at /opt inside the sandbox. External extensions are the executables in `extensions/` of the layers
(and of the function code, as a container image's /opt/extensions would hold them), started in name order.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coldlab import scratch
from coldlab.errors import CodeError
from coldlab.unpack import SizeLimitError, UnpackError
from coldlab.unzip import is_zip, unpack_zip

MAX_LAYERS = 5  # Lambda's limit per function
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # function and layers together (reference §8)
LAYERS = "layers"  # the scratch kind of extracted and merged layers
_HINT = "give --layer a directory or a .zip (its content appears at /opt)"


@dataclass(frozen=True)
class ExternalExtension:
    """An executable Lambda would start as an external extension; `name` is its file name."""

    name: str
    path: Path


@dataclass(frozen=True)
class LayerSet:
    """The function's /opt: `root` is None when there are no layers; `owned` dirs are coldlab's to remove."""

    root: Path | None
    owned: tuple[Path, ...] = ()

    def cleanup(self) -> None:
        for directory in self.owned:
            shutil.rmtree(directory, ignore_errors=True)


def load_layers(paths: Sequence[Path]) -> LayerSet:
    """Open each layer; with more than one (or any zip) they are merged into a scratch directory."""
    if len(paths) > MAX_LAYERS:
        raise CodeError(f"{len(paths)} layers given; Lambda allows {MAX_LAYERS}", "merge or drop layers")
    if not paths:
        return LayerSet(None)
    for path in paths:
        if not path.exists():
            raise CodeError(f"layer {path} does not exist", _HINT)
        if not path.is_dir() and not (stat.S_ISREG(path.stat().st_mode) and is_zip(path)):
            raise CodeError(f"layer {path} is neither a directory nor a zip file", _HINT)
    if len(paths) == 1 and paths[0].is_dir():
        return LayerSet(paths[0].resolve())
    scratch.remove_stale(LAYERS)
    owned: list[Path] = []
    try:
        merged = scratch.make_dir(LAYERS)
        owned.append(merged)
        for path in paths:
            source = path.resolve()
            if not source.is_dir():
                source = scratch.make_dir(LAYERS)
                owned.append(source)
                _extract(path, source)
            shutil.copytree(source, merged, symlinks=True, dirs_exist_ok=True)
        merged.chmod(0o755)  # bound at /opt, where the function's user must read it
        return LayerSet(merged, tuple(owned))
    except BaseException:
        LayerSet(None, tuple(owned)).cleanup()
        raise


def _extract(archive: Path, target: Path) -> None:
    try:
        unpack_zip(archive, target, max_bytes=MAX_UNZIPPED_BYTES, what="layer")
    except SizeLimitError as exc:
        raise CodeError(
            f"layer {archive} unzips to more than {exc.limit / 2**20:g} MiB; Lambda's limit is 250 MiB",
            "shrink the layer",
        ) from exc
    except UnpackError as exc:
        raise CodeError(exc.message, exc.hint) from exc


def external_extensions(code_root: Path, opt_root: Path | None) -> tuple[ExternalExtension, ...]:
    """Executables in `<layers>/extensions` and `<code>/extensions`, by name (a layer's wins a tie)."""
    found: dict[str, ExternalExtension] = {}
    for base in (code_root, opt_root):
        directory = base / "extensions" if base is not None else None
        if directory is None or not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.is_file() and os.access(entry, os.X_OK):
                found[entry.name] = ExternalExtension(entry.name, entry)
    return tuple(found[name] for name in sorted(found))
