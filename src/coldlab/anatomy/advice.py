"""Advice ranked by the milliseconds it saves per cold start (largest first; unknown savings last).

Sources: the inspector's size findings (strip, lambda.norpc, cgo) and heavy modules, priced as modelled
download time; the costliest package inits (their measured clock); network calls made during init (their
traced time, which Init Duration pays on every cold start); GOMAXPROCS above the vCPU this memory size buys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coldlab.anatomy import platform_model as pm
from coldlab.anatomy.network import NetworkCall
from coldlab.anatomy.timeline import ModuleInit, PackageInit
from coldlab.inspect.model import Finding, Report

SIZE_FINDINGS = {"dwarf", "symbols", "lambda-rpc", "cgo", "dynamic"}
MIN_INIT_MS = 0.5  # a package init below this is not worth a line


@dataclass(frozen=True)
class Advice:
    kind: str  # size | module | init | network | gomaxprocs
    title: str
    ms_saved: float | None  # per cold start (p50); None when it can only be measured
    detail: str
    fix: str

    def as_dict(self) -> dict[str, object]:
        saved = None if self.ms_saved is None else round(self.ms_saved, 2)
        return {
            "kind": self.kind,
            "title": self.title,
            "ms_saved": saved,
            "detail": self.detail,
            "fix": self.fix,
        }


def _zipped_share(report: Report, zipped: int, raw_bytes: int) -> int:
    """Zipped bytes that `raw_bytes` of the binary stand for (the file's own deflate ratio)."""
    return int(raw_bytes * zipped / report.file_size) if report.file_size else 0


def advise(
    report: Report | None,
    zipped: int,
    *,
    modules: Sequence[ModuleInit],
    packages: Sequence[PackageInit],
    network: Sequence[NetworkCall] | None,
    gomaxprocs: str | None,
) -> list[Advice]:
    out: list[Advice] = []
    if report is not None:
        for finding in report.findings:
            if finding.id in SIZE_FINDINGS and finding.saving > 0:
                saved = pm.download_saving_ms(zipped, _zipped_share(report, zipped, finding.saving))
                out.append(
                    Advice(
                        "size", finding.title, saved, f"{finding.saving} bytes: {finding.detail}", finding.fix
                    )
                )
            elif finding.id.startswith("heavy:"):
                out.append(
                    _heavy(report, zipped, finding, modules)
                )
    for pkg in packages:
        if (
            pkg.module != "std"
            and pkg.clock_ms >= MIN_INIT_MS
            and len([a for a in out if a.kind == "init"]) < 3
        ):
            out.append(
                Advice(
                    "init",
                    f"package init of {pkg.package}",
                    pkg.clock_ms,
                    f"{pkg.clock_ms:.2f} ms, {pkg.bytes} bytes, {pkg.allocs} allocs on every cold start "
                    f"({pkg.module})",
                    "build what it builds on first use (sync.OnceValue), or drop the import",
                )
            )
    for call in network or ():
        out.append(
            Advice(
                "network",
                f"{call.label()} during init",
                call.ms,
                f"{call.ms:.1f} ms under strace, {call.start_ms:.1f} ms after exec; Init Duration pays it on "
                "every cold start",
                "move it behind sync.OnceValue/sync.Once in the handler (or cache the answer in the package)",
            )
        )
    if gomaxprocs:
        out.append(
            Advice("gomaxprocs", "GOMAXPROCS above the vCPU bought", None, gomaxprocs, "set GOMAXPROCS")
        )
    return sorted(out, key=lambda a: (a.ms_saved is None, -(a.ms_saved or 0.0)))


def _heavy(report: Report, zipped: int, finding: Finding, modules: Sequence[ModuleInit]) -> Advice:
    """A heavy dependency: its modelled download time, plus its modules' measured init clock."""
    from coldlab.inspect.findings import HEAVY, V2_SERVICE

    prefixes = next((p for fid, _t, p, _f in HEAVY if finding.id == f"heavy:{fid}"), (V2_SERVICE,))
    download = pm.download_saving_ms(zipped, _zipped_share(report, zipped, finding.bytes))
    init_ms = sum(m.clock_ms for m in modules if m.module.startswith(prefixes))
    shown = f"; modelled download {download:.1f} ms" + (f", init {init_ms:.2f} ms" if init_ms else "")
    return Advice("module", finding.title, download + init_ms, finding.detail + shown, finding.fix)


def gomaxprocs_note(bootstrap: Path, memory_mb: int, environment: Mapping[str, str]) -> str | None:
    from coldlab.sandbox import Limits, gomaxprocs_advice

    return gomaxprocs_advice(bootstrap, Limits(memory_mb=memory_mb), environment)
