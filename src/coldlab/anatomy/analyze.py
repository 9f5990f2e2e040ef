"""The whole local anatomy of one function: check the binary, inspect it, run the cold starts, build the rows.

Bad input is refused before anything runs, in one line: a binary for another OS (PE, Mach-O) or another
architecture than this machine's cannot be measured here. A bootstrap that is not Go (a script, a C binary)
still runs: its Go rows say why they are empty.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from coldlab.anatomy.advice import Advice, advise, gomaxprocs_note
from coldlab.anatomy.build import Anatomy, build
from coldlab.anatomy.runner import Measured, Progress, RunSpec, measure
from coldlab.errors import ColdlabError, UsageError
from coldlab.inspect.model import Report
from coldlab.inspect.names import ModuleMap
from coldlab.platform.code import load_code

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_LAMBDA_ARCH = {"amd64": "x86_64", "arm64": "arm64"}
_ELF_MACHINES = {62: "amd64", 183: "arm64", 3: "386", 40: "arm"}
_MACHO = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)


class InitFailedError(ColdlabError):
    """The function's init failed or timed out: the anatomy up to the failure is shown (exit 1)."""


@dataclass(frozen=True)
class Result:
    spec: RunSpec
    architecture: str  # Lambda's name for this machine's architecture (x86_64, arm64)
    report: Report | None
    measured: Measured
    anatomy: Anatomy
    advice: tuple[Advice, ...]


def host_goarch() -> str:
    machine = platform.machine().lower()
    return _ARCH.get(machine, machine)


def check_binary(binary: Path, shown: Path) -> None:
    """Refuse what cannot run on this machine: another OS's executable, or another architecture's ELF."""
    with binary.open("rb") as file:
        head = file.read(20)
    host = host_goarch()
    rebuild = f"rebuild with GOOS=linux GOARCH={host} to measure it here, or use --target aws:NAME"
    if head[:2] == b"MZ":
        raise UsageError(f"{shown}: `bootstrap` is a Windows (PE) executable, not a Linux one", rebuild)
    if head[:4] in _MACHO:
        raise UsageError(f"{shown}: `bootstrap` is a macOS (Mach-O) executable, not a Linux one", rebuild)
    if head[:4] == b"\x7fELF" and len(head) >= 20:
        machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
        arch = _ELF_MACHINES.get(machine, f"ELF machine {machine}")
        if arch != host:
            raise UsageError(f"{shown}: `bootstrap` is built for {arch}; this machine runs {host}", rebuild)


def inspect_bootstrap(spec: RunSpec) -> tuple[Report | None, str, str | None]:
    """The inspector's report of the package's bootstrap (or why it is not a Go binary), and the GOMAXPROCS
    warning for this memory size (None when there is none)."""
    from coldlab.inspect.analyze import inspect_binary
    from coldlab.inspect.errors import BinaryError

    path = spec.path
    code = load_code(path)
    try:
        check_binary(code.bootstrap, path)
        try:
            report = inspect_binary(code.bootstrap)
        except BinaryError as exc:
            return None, f"not a Go binary ({exc.message.split(': ', 1)[-1]})", None
        if report.facts.goos not in ("", "linux"):
            raise UsageError(
                f"{path}: `bootstrap` is built for GOOS={report.facts.goos}", "build with GOOS=linux"
            )
        return report, "", gomaxprocs_note(code.bootstrap, spec.memory_mb, dict(spec.environment))
    finally:
        code.cleanup()


def module_map(report: Report | None) -> ModuleMap | None:
    if report is None:
        return None
    from coldlab.inspect.buildinfo import BuildInfo

    f = report.facts
    return ModuleMap(BuildInfo(f.go_version, f.main_path, f.main_module, f.deps, f.settings))


async def analyze(spec: RunSpec, progress: Progress | None = None) -> Result:
    report, go_reason, gomaxprocs = inspect_bootstrap(spec)
    measured = await measure(spec, module_map(report), progress)
    architecture = _LAMBDA_ARCH.get(host_goarch(), host_goarch())
    anatomy = build(measured, report, go_reason, architecture)
    advice = advise(
        report,
        measured.zipped_bytes,
        modules=anatomy.modules,
        packages=anatomy.packages,
        network=anatomy.network,
        gomaxprocs=gomaxprocs,
    )
    return Result(spec, architecture, report, measured, anatomy, tuple(advice))
