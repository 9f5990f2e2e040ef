"""CodeUri (or Code) → a local directory or .zip holding `bootstrap`, building Go source like `sam build`.

A directory holding `bootstrap` (and no `Metadata.BuildMethod: go1.x`) or a .zip with `bootstrap` at its
root is used as it is. A directory of Go source (go.mod or *.go) is built when BuildMethod is go1.x or
absent and no `bootstrap` is there. S3 locations and inline code cannot be served from this machine.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.errors import ToolchainError
from coldlab.template.gobuild import GoSourceBuilder, is_go_source
from coldlab.template.nodes import Where

_LOCAL_HINT = "point it at a local directory (Go source or `bootstrap`) or a .zip holding `bootstrap`"


@dataclass(frozen=True)
class CodeRequest:
    """What one function's code needs: where it is written, and how to build it."""

    raw: Any  # the resolved CodeUri / Code value (None when absent)
    where: Where  # the CodeUri property (or the resource, when absent)
    property_name: str  # "CodeUri" or "Code", for messages
    build_method: str | None
    architecture: str


def prepare_code(
    request: CodeRequest,
    *,
    template_dir: Path,
    build: bool,
    builder: GoSourceBuilder | None,
    warnings: list[str],
) -> Path:
    """The code path for FunctionConfig: built (when Go source and `build`), or the local path as given."""
    path = _local_path(request, template_dir)
    where = request.where
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise where.error(f"{path} is neither a directory nor a .zip", _LOCAL_HINT)
        with zipfile.ZipFile(path) as bundle:
            if "bootstrap" not in bundle.namelist():
                raise where.error(
                    f"{path} has no `bootstrap` at its root", "zip the built binary as `bootstrap`"
                )
        return path
    method = request.build_method
    has_bootstrap = (path / "bootstrap").is_file()
    if method not in (None, "go1.x"):
        if has_bootstrap:
            warnings.append(
                where.warning(
                    f"Metadata.BuildMethod {method} is not run by coldlab; using the `bootstrap` there"
                )
            )
            return path
        raise where.error(
            f"Metadata.BuildMethod {method} is not supported and {path} holds no `bootstrap`",
            "use BuildMethod: go1.x, or build it yourself so the directory holds `bootstrap`",
        )
    if method == "go1.x" or not has_bootstrap:
        if not is_go_source(path):
            if method == "go1.x":
                raise where.error(
                    f"Metadata.BuildMethod is go1.x but {path} holds no Go source (go.mod or *.go)",
                    _LOCAL_HINT,
                )
            raise where.error(f"{path} holds neither `bootstrap` nor Go source", _LOCAL_HINT)
        if not build:
            return path
        try:
            return (builder or GoSourceBuilder()).build(path, architecture=request.architecture)
        except ToolchainError as exc:
            raise ToolchainError(f"{where.file}:{where.line}: {where.path}: {exc.message}", exc.hint) from exc
    return path


def _local_path(request: CodeRequest, template_dir: Path) -> Path:
    raw, where, name = request.raw, request.where, request.property_name
    if raw is None:
        raise where.error(
            f"{name} is missing",
            f"set {name} to the directory holding your Go source or `bootstrap`"
            + (", on the function or in Globals.Function" if name == "CodeUri" else ""),
        )
    if isinstance(raw, dict):
        if "ZipFile" in raw:
            raise where.error("inline code (Code.ZipFile) cannot run as a Go bootstrap", _LOCAL_HINT)
        raise where.error(
            f"{name} {dict(raw)} is an S3 location, which cannot be fetched locally", _LOCAL_HINT
        )
    if not isinstance(raw, str) or not raw:
        raise where.error(f"{name} must be a path, not {raw!r}", _LOCAL_HINT)
    if raw.startswith("s3://"):
        raise where.error(f"{name} {raw} is an S3 location, which cannot be fetched locally", _LOCAL_HINT)
    path = (template_dir / raw).resolve()
    if not path.exists():
        raise where.error(f"{name} {raw} does not exist (looked for {path})", _LOCAL_HINT)
    return path
