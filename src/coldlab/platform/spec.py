"""FunctionSpec: one function as `coldlab serve` hosts it, from a SAM template or from a path on the CLI.

A spec is a value: the validated FunctionConfig (its `code` already built: a directory or .zip holding
`bootstrap`) plus what the platform around the environments needs (concurrency, alias, URL, routes).
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

from coldlab.config import FunctionConfig
from coldlab.errors import CodeError

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_NAME_MAX = 64
LOG_FORMATS = ("text", "json")
ROUTE_APIS = ("HttpApi", "Api")
URL_AUTH_TYPES = ("NONE", "AWS_IAM")
URL_INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")


@dataclass(frozen=True)
class RouteSpec:
    """An `Events` entry of type HttpApi (payload 2.0) or Api (REST, payload 1.0)."""

    api: str  # "HttpApi" | "Api"
    method: str  # "GET", ... or "ANY"
    path: str  # "/items/{id}", "/{proxy+}"; HttpApi without a Path is the catch-all "$default"


@dataclass(frozen=True)
class FunctionUrlSpec:
    """`FunctionUrlConfig`: the enum values are AWS's (RESPONSE_STREAM, not RESPONSE_STREAMING)."""

    auth_type: str = "NONE"
    invoke_mode: str = "BUFFERED"


@dataclass(frozen=True)
class FunctionSpec:
    """A function to serve. `name` is FunctionName (or the logical id); `config.code` holds `bootstrap`."""

    name: str
    logical_id: str
    config: FunctionConfig
    reserved_concurrency: int | None = None
    alias: str | None = None  # AutoPublishAlias
    provisioned_concurrency: int | None = None  # set on `alias`
    function_url: FunctionUrlSpec | None = None
    log_format: str = "text"  # "text" | "json"
    routes: tuple[RouteSpec, ...] = ()
    layers: tuple[Path, ...] = ()  # local layer directories, in template order
    source: str = ""  # "template.yaml:12" or the CLI path, for messages


def sanitise_name(raw: str) -> str:
    """A Lambda function name from a file name: runs of other characters become '-', at most 64 long."""
    name = _NAME_CHARS.sub("-", raw).strip("-")[:_NAME_MAX].rstrip("-")
    return name or "function"


def host_architecture() -> str:
    """This machine's Lambda architecture name: x86_64 or arm64."""
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def spec_from_path(path: Path, *, memory_mb: int, timeout_s: int, name: str | None = None) -> FunctionSpec:
    """The spec for `coldlab serve DIR|ZIP`: the name comes from the directory name or the zip's stem.

    A directory holding Go source and no `bootstrap` is built the way `sam build` would build it.
    """
    if not path.exists():
        raise CodeError(f"code path {path} does not exist", "give a directory or a .zip holding `bootstrap`")
    resolved = path.resolve()
    code = resolved
    if resolved.is_dir() and not (resolved / "bootstrap").exists():
        from coldlab.template.gobuild import build_if_go_source  # lazy: only needed for Go source

        code = build_if_go_source(resolved, architecture=host_architecture()) or resolved
    base = resolved.stem if resolved.is_file() else resolved.name
    function_name = name if name is not None else sanitise_name(base)
    config = FunctionConfig.create(
        code, function_name=function_name, memory_mb=memory_mb, timeout_s=timeout_s
    )
    return FunctionSpec(name=function_name, logical_id=function_name, config=config, source=str(path))
