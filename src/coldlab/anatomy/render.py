"""The anatomy for people: rich tables in the seed's layout (phase, owner, p50, p90, how, billed, what
dominates), then the totals, the init trace per module, the network calls and the advice; and Markdown."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from coldlab.anatomy.analyze import Result
from coldlab.anatomy.build import MODELLED, Band

if TYPE_CHECKING:
    from rich.console import RenderableType

TOP = 10


def _ms(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1f}"


def _band(band: Band | None) -> str:
    return "-" if band is None else f"p50 {band.p50_ms:.1f} ms, p90 {band.p90_ms:.1f} ms"


def summary_lines(result: Result) -> Iterator[str]:
    t = result.anatomy.totals
    yield f"Init Duration measured here (exec to the first /next): {_band(t.init_measured)}"
    yield f"Init Duration as Lambda would bill it (with Lambda's own work, modelled): {_band(t.init_lambda)}"
    yield f"first request Duration: {_band(t.first_duration)}; warm median {_ms(t.warm_median_ms)} ms"
    if t.billed_cold_ms is not None:
        yield f"billed for the cold request (Init Duration + Duration, provided.*): {t.billed_cold_ms:.0f} ms"
    yield f"cold-start latency a client sees (every row + the first request): {_band(t.cold_latency)}"


def view(result: Result) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    spec, anatomy = result.spec, result.anatomy
    title = f"coldlab anatomy: {spec.path} at {spec.memory_mb} MB ({len(result.measured.runs)} cold starts)"
    phases = Table(title=title, title_justify="left")
    for column in ("phase", "owner", "p50 ms", "p90 ms", "how", "billed", "what dominates"):
        phases.add_column(column, justify="right" if column.endswith("ms") else "left")
    for p in anatomy.phases:
        how = "[cyan]modelled[/]" if p.kind == MODELLED else "measured"
        dominates = p.empty or p.dominates
        phases.add_row(p.name, p.owner, _ms(p.p50_ms), _ms(p.p90_ms), how, p.billed, dominates)
    parts: list[RenderableType] = [phases, Text("\n".join(summary_lines(result)))]
    if anatomy.modules:
        mods = Table(title="package init, per module (GODEBUG=inittrace=1)", title_justify="left")
        for column in ("module", "clock p50 ms", "clock p90 ms", "bytes", "allocs", "packages"):
            mods.add_column(column, justify="left" if column == "module" else "right")
        for m in anatomy.modules[:TOP]:
            mods.add_row(m.module, f"{m.clock_ms:.2f}", f"{m.clock_p90_ms:.2f}", str(m.bytes), str(m.allocs),
                         str(m.packages))  # fmt: skip
        pkgs = Table(title="slowest package inits", title_justify="left")
        for column in ("package", "module", "clock p50 ms", "bytes", "allocs"):
            pkgs.add_column(
                column, justify="right" if column in ("clock p50 ms", "bytes", "allocs") else "left"
            )
        for pk in anatomy.packages[:TOP]:
            pkgs.add_row(pk.package, pk.module, f"{pk.clock_ms:.2f}", str(pk.bytes), str(pk.allocs))
        parts += [mods, pkgs]
    parts.append(_network(result))
    if result.advice:
        advice = Table(title="advice, by milliseconds saved per cold start", title_justify="left")
        for column in ("saves ms", "what", "fix"):
            advice.add_column(column, justify="right" if column == "saves ms" else "left")
        for a in result.advice:
            advice.add_row(
                "?" if a.ms_saved is None else f"{a.ms_saved:.1f}", f"{a.title}: {a.detail}", a.fix
            )
        parts.append(advice)
    parts.append(Text("\n".join(f"note: {n}" for n in _notes(result)), style="dim"))
    return Group(*parts)


def _network(result: Result) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    calls = result.anatomy.network
    if calls is None:
        return Text(f"network during init: not traced ({result.measured.network_note})")
    if not calls:
        return Text(f"network during init: no calls before the first /next ({result.measured.network_note})")
    table = Table(title=f"network during init ({result.measured.network_note})", title_justify="left")
    for column in ("call", "after exec ms", "ms"):
        table.add_column(column, justify="left" if column == "call" else "right")
    for c in calls:
        table.add_row(c.label(), f"{c.start_ms:.1f}", f"{c.ms:.1f}")
    return table


def _notes(result: Result) -> list[str]:
    notes = list(result.anatomy.notes)
    notes += [str(n) for n in result.measured.fidelity.get("notes", []) or []]  # type: ignore[attr-defined]
    init_cpu = result.measured.fidelity.get("init_cpu")
    if init_cpu:
        notes.append(f"init CPU: {init_cpu}")
    if result.anatomy.go_reason:
        notes.append(f"Go rows empty: {result.anatomy.go_reason}")
    failure = result.anatomy.failure
    if failure is not None:
        notes.append(
            f"init failed in run {failure.index + 1}: {failure.failure} after {_ms(failure.init_ms)} ms"
            + (f" ({failure.failure_detail})" if failure.failure_detail else "")
        )
    return notes


def markdown(result: Result) -> str:
    """The same anatomy as Markdown, for a pull-request comment."""
    spec, anatomy = result.spec, result.anatomy
    out = [
        f"### coldlab anatomy: `{spec.path}` at {spec.memory_mb} MB "
        f"({len(result.measured.runs)} cold starts)",
        "",
    ]
    out += [
        "| phase | owner | p50 ms | p90 ms | how | billed | what dominates |",
        "|---|---|--:|--:|---|---|---|",
    ]
    for p in anatomy.phases:
        out.append(
            f"| {p.name} | {p.owner} | {_ms(p.p50_ms)} | {_ms(p.p90_ms)} | {p.kind} | {p.billed} | "
            f"{(p.empty or p.dominates).replace('|', '/')} |"
        )
    out += ["", *(f"- {line}" for line in summary_lines(result)), ""]
    if anatomy.modules:
        out += ["| module | init clock p50 ms | bytes | allocs |", "|---|--:|--:|--:|"]
        out += [
            f"| `{m.module}` | {m.clock_ms:.2f} | {m.bytes} | {m.allocs} |" for m in anatomy.modules[:TOP]
        ]
        out.append("")
    if anatomy.network:
        out += ["| network call during init | after exec ms | ms |", "|---|--:|--:|"]
        out += [f"| {c.label()} | {c.start_ms:.1f} | {c.ms:.1f} |" for c in anatomy.network]
        out.append("")
    if result.advice:
        out += ["| saves ms | advice | fix |", "|--:|---|---|"]
        for a in result.advice:
            saved = "?" if a.ms_saved is None else f"{a.ms_saved:.1f}"
            out.append(f"| {saved} | {a.title}: {a.detail.replace('|', '/')} | {a.fix} |")
        out.append("")
    out += [f"_{n}_" for n in _notes(result)]
    return "\n".join(out) + "\n"
