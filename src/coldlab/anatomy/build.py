"""From measured runs and the platform models to the anatomy: a row per phase, the totals, what Lambda bills.

Rows, in the order a cold start runs them (the seed's table): placement and provisioning, code download, unzip
and page-in, exec to the first package init, the runtime's and standard library's inits, your modules' inits,
main before the first /next, Lambda's own work inside Init Duration, the first request's extra cost. Rows 4-8
are what Lambda bills as Init Duration (reference §5: init ends when the runtime calls /next); the client sees
every row plus the first request's Duration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from coldlab.anatomy import platform_model as pm
from coldlab.anatomy.network import NetworkCall
from coldlab.anatomy.runner import Measured, RunRecord
from coldlab.anatomy.timeline import ModuleInit, PackageInit, percentile, roll_up
from coldlab.inspect.findings import band
from coldlab.inspect.model import Report

MiB = 1 << 20
MEASURED, MODELLED = "measured", "modelled"
INIT, DURATION, NOT_BILLED = "Init Duration", "Duration", "not billed"


@dataclass(frozen=True)
class Phase:
    id: str
    name: str
    owner: str
    kind: str  # measured | modelled
    source: str
    p50_ms: float | None
    p90_ms: float | None
    billed: str
    dominates: str = ""
    empty: str = ""  # why there is no figure

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "kind": self.kind,
            "source": self.source,
            "p50_ms": _round(self.p50_ms),
            "p90_ms": _round(self.p90_ms),
            "billed": self.billed,
            "dominates": self.dominates,
            "empty": self.empty or None,
        }


@dataclass(frozen=True)
class Band:
    p50_ms: float
    p90_ms: float

    def as_dict(self) -> dict[str, float | None]:
        return {"p50_ms": _round(self.p50_ms), "p90_ms": _round(self.p90_ms)}


@dataclass(frozen=True)
class Totals:
    init_measured: Band | None  # exec -> first /next here
    init_lambda: Band | None  # what Lambda would bill as Init Duration (measured + Lambda's own work)
    first_duration: Band | None
    warm_median_ms: float | None
    billed_cold_ms: float | None  # Init Duration + the first Duration, rounded up per Lambda (p50)
    cold_latency: Band | None  # what a client waits for: every row plus the first request


@dataclass(frozen=True)
class Anatomy:
    phases: tuple[Phase, ...]
    totals: Totals
    modules: tuple[ModuleInit, ...]
    packages: tuple[PackageInit, ...]
    network: tuple[NetworkCall, ...] | None
    go_reason: str  # "" for a Go binary with an init trace; why the Go rows are empty otherwise
    failure: RunRecord | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 3)


def _band(values: Sequence[float]) -> Band | None:
    return Band(percentile(values, 50), percentile(values, 90)) if values else None


def _row(  # noqa: PLR0917 (a table row: its columns in order)
    id_: str, name: str, owner: str, source: str, values: Sequence[float], billed: str, **kw: str
) -> Phase:
    b = _band(values)
    p50, p90 = (None, None) if b is None else (b.p50_ms, b.p90_ms)
    return Phase(id_, name, owner, MEASURED, source, p50, p90, billed, **kw)


def _modelled(id_: str, name: str, owner: str, model: pm.Modelled, billed: str, dominates: str) -> Phase:  # noqa: PLR0917 (a table row: every column in order)
    return Phase(id_, name, owner, MODELLED, model.source, model.p50_ms, model.p90_ms, billed, dominates)


def build(measured: Measured, report: Report | None, go_reason: str, architecture: str) -> Anatomy:
    runs = measured.runs
    ok = [r for r in runs if r.ok]
    splits = [r.split for r in runs if r.split is not None]
    modules, packages = roll_up([r.inits for r in runs])
    go_reason = go_reason or ("" if splits else "the bootstrap printed no init trace (GODEBUG overridden?)")
    warm = [w for r in ok for w in r.warm_ms]
    warm_median = percentile(warm, 50) if warm else None
    size = report.file_size if report is not None else 0
    download = pm.download(measured.zipped_bytes)
    overhead = pm.lambda_init_overhead(architecture)
    page_ins = [r.page_in.ms for r in runs]
    cold = all(r.page_in.dropped for r in runs)
    label, _ = band(measured.zipped_bytes)
    phases = [
        _modelled("provisioning", "placement and sandbox provisioning", "platform", pm.PROVISIONING,
                  NOT_BILLED,
                  "Lambda's placement and microVM start-up, and the front end's cold path"),
        _modelled("download", "code download", "platform", download, NOT_BILLED,
                  f"{measured.zipped_bytes / MiB:.1f} MiB zipped (seed band {label})"),
        _row("unzip", "unzip and page-in", "platform", "measured here: coldlab's unzip of the package; "
             "page-in: "
             "a cold sequential read of the binary", [r.unzip_ms for r in runs], NOT_BILLED,
             dominates=f"coldlab's own unzip (not added to the totals: Lambda's is in the download); "
             f"page-in {percentile(page_ins, 50):.1f} ms, "
             + ("page cache dropped before each run" if cold
                else "warm: the page cache could not be dropped")),
    ]  # fmt: skip
    phases += _init_rows(runs, modules, packages, measured.network, go_reason=go_reason, size=size, cold=cold)
    phases.append(
        _modelled("lambda_init", "Lambda's own work inside Init Duration", "platform", overhead, INIT,
                  "its Runtime API, the microVM's first exec and page-in from remote storage, logging")
    )  # fmt: skip
    extra = [r.first_ms - warm_median for r in ok if r.first_ms is not None and warm_median is not None]
    phases.append(
        _row("first_request", "first request's extra cost", "your code",
             "measured here: the first request's Duration minus the warm median", extra, DURATION,
             dominates="lazy set-up on first use (sync.OnceValue clients, caches, connections)",
             empty="" if extra else "no request ran (init failed)")
    )  # fmt: skip
    totals = _totals(ok, download, overhead, warm_median)
    return Anatomy(
        tuple(phases), totals, tuple(modules), tuple(packages), measured.network, go_reason,
        measured.failed, measured.notes,
    )  # fmt: skip


def _init_rows(
    runs: Sequence[RunRecord],
    modules: Sequence[ModuleInit],
    packages: Sequence[PackageInit],
    network: Sequence[NetworkCall] | None,
    *,
    go_reason: str,
    size: int,
    cold: bool,
) -> list[Phase]:
    split_runs = [r for r in runs if r.split is not None]
    binary = f"a {size / MiB:.1f} MiB binary" if size else "the binary"
    cache = "from a cold page cache" if cold else "from the page cache"
    if not split_runs:
        whole = [r.init_ms for r in runs if r.init_ms is not None]
        why = go_reason or "no init trace"
        return [
            _row("exec", "bootstrap exec to the first /next (not split)", "OS + runtime",
                 "measured here: Init Duration (exec to the first /next)", whole, INIT,
                 dominates=f"loading {binary} {cache}; {why}"),
            *(Phase(i, n, o, MEASURED, "GODEBUG=inittrace=1", None, None, INIT, empty=why)
              for i, n, o in (("runtime_inits", "Go runtime and standard library inits", "Go"),
                              ("package_inits", "package inits (your module and its dependencies)",
                               "your code"),
                              ("main_before_next", "main before the first /next", "your code"))),
        ]  # fmt: skip
    std = next((m for m in modules if m.module == "std"), None)
    top_std = next((p for p in packages if p.module == "std"), None)
    own = [m for m in modules if m.module != "std"]
    top_own = next((p for p in packages if p.module != "std"), None)
    net = list(network or ())
    net_text = f"; network during init: {len(net)} call(s), {sum(c.ms for c in net):.1f} ms" if net else ""
    own_text = (
        f"{own[0].module} {own[0].clock_ms:.2f} ms; slowest package {top_own.package} "
        f"{top_own.clock_ms:.2f} ms, "
        f"{top_own.bytes} bytes, {top_own.allocs} allocs"
        if own and top_own
        else "no package init work"
    )
    std_text = f"{top_std.package} {top_std.clock_ms:.2f} ms" if top_std else "none traced"
    if std is not None:
        std_text = f"{std.packages} packages; slowest {std_text}"
    return [
        _row("exec", "bootstrap exec to the first package init", "OS + Go runtime",
             "measured here: exec to the runtime's start, from the init trace's clock",
             [r.split.exec_to_first_init_ms for r in split_runs if r.split], INIT,
             dominates=f"loading {binary} {cache}, the Go scheduler's set-up"),
        _row("runtime_inits", "Go runtime and standard library inits", "Go",
             "measured here: the init trace's span less your modules' clock",
             [r.split.runtime_ms for r in split_runs if r.split], INIT, dominates=std_text),
        _row("package_inits", "package inits (your module and its dependencies)", "your code",
             "measured here: GODEBUG=inittrace=1 clock, rolled up per module",
             [r.split.module_inits_ms for r in split_runs if r.split], INIT, dominates=own_text + net_text),
        _row("main_before_next", "main before the first /next", "your code",
             "measured here: the last package init's end to the first /next",
             [r.split.main_before_next_ms for r in split_runs if r.split], INIT,
             dominates="main's own set-up (lambda.Start, clients made in main) before asking for work"),
    ]  # fmt: skip


def _totals(
    ok: Sequence[RunRecord],
    download: pm.Modelled,
    overhead: pm.Modelled,
    warm_median: float | None,
) -> Totals:
    inits = [r.init_ms for r in ok if r.init_ms is not None]
    init_measured = _band(inits)
    init_lambda = (
        Band(init_measured.p50_ms + overhead.p50_ms, init_measured.p90_ms + overhead.p90_ms)
        if init_measured
        else None
    )
    first = _band([r.first_ms for r in ok if r.first_ms is not None])
    billed = None
    if init_lambda is not None and first is not None:
        billed = float(math.ceil(init_lambda.p50_ms + first.p50_ms))  # provided.*: Init Duration is billed
    latency = None
    # coldlab's unzip is not added: Lambda's own is inside the modelled download, and ours is Python's
    per_run = [r.init_ms + r.first_ms for r in ok if r.init_ms is not None and r.first_ms is not None]
    if per_run:
        p50 = pm.PROVISIONING.p50_ms + download.p50_ms + overhead.p50_ms + percentile(per_run, 50)
        p90 = pm.PROVISIONING.p90_ms + download.p90_ms + overhead.p90_ms + percentile(per_run, 90)
        latency = Band(p50, p90)
    return Totals(init_measured, init_lambda, first, warm_median, billed, latency)
