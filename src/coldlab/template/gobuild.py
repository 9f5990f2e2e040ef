"""Build a CodeUri directory of Go source the way `sam build` does (BuildMethod go1.x), cached by content.

`sam build` runs `go build` with GOOS=linux, GOARCH from Architectures and writes the binary named after
the Handler (`bootstrap` for provided.* runtimes). We add CGO_ENABLED=0 and `-tags lambda.norpc` (what
aws-lambda-go recommends for provided.*) through coldlab.gotool, and keep each result under
`<cache>/builds/<hash>/bootstrap`, the hash covering every file of the source tree, the module's
go.mod/go.sum, the architecture, the build flags and the toolchain version: same inputs, no `go` run.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from coldlab import gotool
from coldlab.errors import ToolchainError

GOARCH = {"x86_64": "amd64", "arm64": "arm64"}
_CACHE_FORMAT = "coldlab-go-build-1"  # bump when the layout or the flags change
_SKIPPED_NAMES = frozenset({"bootstrap"})  # a stale binary beside the source is not an input


def user_cache_dir() -> Path:
    """coldlab's cache directory: $XDG_CACHE_HOME/coldlab, else ~/.cache/coldlab."""
    return gotool.cache_root() / "coldlab"


def is_go_source(directory: Path) -> bool:
    """True when `directory` is a Go package: it holds go.mod or a .go file."""
    return directory.is_dir() and ((directory / "go.mod").is_file() or any(directory.glob("*.go")))


@dataclass(frozen=True)
class GoSourceBuilder:
    """Builds Go source directories into cached `bootstrap` binaries. `go` defaults to gotool.find_go()."""

    cache_dir: Path = field(default_factory=user_cache_dir)
    go: Path | None = None

    def build(self, source: Path, *, architecture: str) -> Path:
        """Return a directory holding `bootstrap` built from `source`; build it only on a cache miss."""
        go = self.go or gotool.find_go()
        spec = gotool.GoBuild(package_dir=source, goarch=GOARCH[architecture])
        try:
            key = content_hash(source, spec, toolchain_version(go))
        except OSError as exc:  # a source file that cannot be read
            raise ToolchainError(
                f"could not read the Go source in {source}: {exc}", "check its permissions"
            ) from exc
        target = self.cache_dir / "builds" / key
        if (target / "bootstrap").is_file():
            return target
        try:
            self._build_into(spec, go, target)
        except OSError as exc:  # the cache directory is not writable, the disk is full, ...
            raise ToolchainError(
                f"could not store the build of {source} in {target.parent}: {exc}",
                "make the cache directory writable (or set XDG_CACHE_HOME) and retry",
            ) from exc
        return target

    @staticmethod
    def _build_into(spec: gotool.GoBuild, go: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Build beside the target and rename into place, so a half-written binary is never a cache hit
        # and two servers building the same source at once both end with one complete entry.
        scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
        try:
            scratch.chmod(0o755)  # mkdtemp makes it 0700; a code directory is world-readable like /var/task
            gotool.build(spec, scratch / "bootstrap", go=go)
            if target.exists() and not (target / "bootstrap").is_file():
                shutil.rmtree(target)  # an entry someone emptied by hand: replace it
            try:
                scratch.rename(target)
            except OSError:
                if not (target / "bootstrap").is_file():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def build_if_go_source(
    directory: Path, *, architecture: str, builder: GoSourceBuilder | None = None
) -> Path | None:
    """Build `directory` when it holds Go source and return the built code directory; None otherwise."""
    if not is_go_source(directory):
        return None
    return (builder or GoSourceBuilder()).build(directory, architecture=architecture)


def content_hash(source: Path, spec: gotool.GoBuild, toolchain: str) -> str:
    """sha256 over the source tree's files (path, exec bit, bytes), go.mod/go.sum, flags and toolchain."""
    digest = hashlib.sha256()
    for part in (_CACHE_FORMAT, toolchain, spec.goos, spec.goarch, repr(spec.tags), str(spec.strip)):
        _feed(digest, part.encode())
    for path in sorted(_tree_files(source)):
        _feed_file(digest, path.relative_to(source).as_posix(), path)
    module_root = _module_root(source)
    if module_root is not None and module_root != source:
        # The module files live above the package directory: they still decide what gets built.
        for name in ("go.mod", "go.sum", "go.work", "go.work.sum"):
            if (module_root / name).is_file():
                _feed_file(digest, f"../{name}", module_root / name)
    return digest.hexdigest()[:32]


def _tree_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for directory, subdirs, names in os.walk(root):
        # Hidden directories (.git, .aws-sam, .idea) are never Go inputs.
        subdirs[:] = [name for name in subdirs if not name.startswith(".")]
        for name in names:
            if name in _SKIPPED_NAMES and Path(directory) == root:
                continue
            path = Path(directory) / name
            if path.is_file():
                files.append(path)
    return files


def _module_root(source: Path) -> Path | None:
    for candidate in (source, *source.parents):
        if (candidate / "go.mod").is_file():
            return candidate
    return None


def _feed(digest: hashlib._Hash, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)


def _feed_file(digest: hashlib._Hash, name: str, path: Path) -> None:
    _feed(digest, name.encode())
    _feed(digest, b"x" if os.access(path, os.X_OK) else b"-")
    _feed(digest, path.read_bytes())


@functools.cache
def toolchain_version(go: Path) -> str:
    """The toolchain's version: GOROOT/VERSION when the binary sits in GOROOT/bin, else `go env GOVERSION`."""
    version_file = go.resolve().parent.parent / "VERSION"
    if version_file.is_file():
        first = version_file.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
        if first and first[0].startswith("go"):
            return first[0].strip()
    try:
        proc = subprocess.run(
            [str(go), "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainError(f"could not run {go} env GOVERSION: {exc}", "check the Go toolchain") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ToolchainError(f"{go} env GOVERSION failed: {proc.stderr.strip()}", "check the Go toolchain")
    return proc.stdout.strip()
