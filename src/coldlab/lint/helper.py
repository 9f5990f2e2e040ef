"""The Go helper (gohelper/ beside this file): built once with coldlab's Go toolchain, cached by content
under ~/.cache/coldlab/lint/<hash>/, and run over the user's module.

The helper does the Go work (go/packages, go/types, the call graph); this module turns its JSON into
values and its progress lines into callbacks. It reads the module; it writes nothing into it: the go
command runs with the module as it is (no -mod=mod), modules download into coldlab's module cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coldlab import gotool
from coldlab.errors import ToolchainError, UsageError

HELPER_SOURCE = Path(__file__).resolve().parent / "gohelper"
HELPER_SCHEMA = "coldlab.linthelper/1"
_CACHE_FORMAT = "coldlab-linthelper-build-1"  # bump when the build flags change
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def lint_cache() -> Path:
    return gotool.cache_root() / "coldlab" / "lint"


def _source_files() -> list[Path]:
    return sorted(p for p in HELPER_SOURCE.iterdir() if p.suffix == ".go" or p.name in ("go.mod", "go.sum"))


def helper_key(go_version: str) -> str:
    """sha256 over the helper's source, go.mod/go.sum, the toolchain version and the target platform."""
    digest = hashlib.sha256()
    for part in (_CACHE_FORMAT, go_version, _host_goarch()):
        digest.update(part.encode() + b"\0")
    for path in _source_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def _host_goarch() -> str:
    machine = platform.machine().lower()
    if machine not in _GOARCH:
        raise ToolchainError(f"coldlab lint does not know Go's name for this architecture ({machine})")
    return _GOARCH[machine]


def helper_binary(go: Path) -> Path:
    """The built helper for `go`, building it on a cache miss (into a scratch directory, then renamed)."""
    from coldlab.template.gobuild import toolchain_version

    key = helper_key(toolchain_version(go))
    target = lint_cache() / key
    binary = target / "coldlab-linthelper"
    if binary.is_file():
        return binary
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    except OSError as exc:
        raise ToolchainError(
            f"could not create the lint helper's cache in {target.parent}: {exc}",
            "make the cache directory writable (or set XDG_CACHE_HOME)",
        ) from exc
    try:
        spec = gotool.GoBuild(package_dir=HELPER_SOURCE, goarch=_host_goarch(), tags=(), strip=True)
        gotool.build(spec, scratch / binary.name, go=go)
        try:
            scratch.rename(target)
        except OSError:
            if not binary.is_file():  # not another coldlab finishing the same build first
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return binary


def helper_environment(go: Path, jobs: int) -> dict[str, str]:
    """The user's environment with coldlab's Go toolchain first, its caches, and --jobs applied."""
    env = dict(os.environ)
    flags = [flag for flag in env.get("GOFLAGS", "").split() if not flag.startswith("-p=")]
    env.update(
        {
            "PATH": f"{go.parent}{os.pathsep}{env.get('PATH', '')}",  # go/packages runs `go` from PATH
            "GOTOOLCHAIN": "local",  # never download another toolchain
            "GOMODCACHE": str(gotool.module_cache()),
            "GOCACHE": str(gotool.build_cache()),
            "GOPROXY": env.get("GOPROXY") or gotool.DEFAULT_GOPROXY,
            "GOFLAGS": " ".join([*flags, "-modcacherw", f"-p={jobs}"]),
            "GOMAXPROCS": str(jobs),  # the helper's own parse/type-check parallelism
        }
    )
    return env


def run_helper(
    module_dir: Path,
    patterns: tuple[str, ...],
    *,
    jobs: int,
    progress: Progress | None = None,
    go: Path | None = None,
    timeout_s: float = 3600,
) -> dict[str, Any]:
    """Run the helper over `patterns` in `module_dir` and return its JSON document."""
    go = go or gotool.find_go()
    binary = helper_binary(go)
    proc = subprocess.Popen(
        [str(binary), "-dir", str(module_dir), "--", *patterns],
        cwd=module_dir,
        env=helper_environment(go, jobs),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read() if proc.stdout else b""))
    reader.start()
    problems: list[str] = []
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            parts = line.split()
            if len(parts) == 4 and parts[0] == "progress" and parts[2].isdigit() and parts[3].isdigit():
                if progress is not None:
                    progress(parts[1], int(parts[2]), int(parts[3]))
            elif line.strip():
                problems.append(line.removeprefix("error ").strip())
        proc.wait(timeout=timeout_s)
    except BaseException:  # Ctrl-C, SIGTERM, a timeout: the helper and its go list go too
        proc.kill()
        proc.wait()
        raise
    finally:
        reader.join()
    if proc.returncode != 0:
        detail = " | ".join(problems[-3:]) or f"exit status {proc.returncode}"
        raise UsageError(
            f"go could not load {' '.join(patterns)} in {module_dir}: {detail}",
            "check the package patterns and that `go list` works in that directory",
        )
    try:
        document: dict[str, Any] = json.loads(b"".join(chunks))
    except json.JSONDecodeError as exc:
        raise ToolchainError(f"the lint helper {binary} printed no JSON document: {exc}") from exc
    if document.get("schema") != HELPER_SCHEMA:
        spoken = document.get("schema")
        raise ToolchainError(f"the lint helper {binary} speaks {spoken!r}, not {HELPER_SCHEMA!r}")
    return document
