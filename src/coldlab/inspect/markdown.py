"""Markdown for a pull-request comment: the headline, modules, top packages, findings, budgets."""

from __future__ import annotations

from coldlab.inspect.budgets import Breach
from coldlab.inspect.diff import Diff
from coldlab.inspect.inittrace import InitTrace
from coldlab.inspect.model import Report
from coldlab.inspect.render import flags_line, human, pct, top_modules


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(
    report: Report, top: int = 15, trace: InitTrace | None = None, breaches: list[Breach] | None = None
) -> str:
    f = report.facts
    out = [
        f"### coldlab inspect: `{report.path}`",
        "",
        f"**{human(report.file_size)}** ({report.file_size} bytes), {human(report.zipped_size)} zipped, "
        f"{f.go_version}, {flags_line(report)}.",
        "",
    ]
    for b in breaches or []:
        out.append(f"> :x: **Budget exceeded:** {_cell(b.message)}")
    if breaches:
        out.append("")
    out += ["| module | bytes | % |", "|---|---:|---:|"]
    rows = top_modules(report, top)
    out += [f"| {_cell(m.name)} | {m.size} | {pct(m.size, report.file_size)} |" for m in rows]
    out += [
        "",
        f"<details><summary>Top {top} packages</summary>",
        "",
        "| package | module | bytes |",
        "|---|---|---:|",
    ]
    out += [f"| {_cell(p.name)} | {_cell(p.module)} | {p.size} |" for p in report.packages[:top]]
    out += ["", "</details>", "", "| finding | bytes | saves | fix |", "|---|---:|---:|---|"]
    out += [
        f"| {_cell(x.title)}: {_cell(x.detail)} | {x.bytes} | {x.saving} | {_cell(x.fix)} |"
        for x in report.findings
    ]
    if trace is not None:
        dur = f"{trace.init_duration_ms:.1f} ms" if trace.init_duration_ms is not None else "n/a"
        out += [
            "",
            f"Init: {len(trace.entries)} packages, {trace.clock_ms:.2f} ms package init, {dur} exec to "
            "first `/next`.",
            "",
            "| package | clock ms | bytes | allocs |",
            "|---|---:|---:|---:|",
        ]
        out += [
            f"| {_cell(e.package)} | {e.clock_ms:g} | {e.bytes} | {e.allocs} |" for e in trace.slowest(10)
        ]
    return "\n".join(out) + "\n"


def diff_markdown(d: Diff, top: int = 15) -> str:
    change = d.new_size - d.old_size
    out = [
        "### coldlab inspect --diff",
        "",
        f"`{d.old_path}` → `{d.new_path}`: {d.old_size} → {d.new_size} bytes (**{change:+d}**)",
        "",
    ]
    for title, rows in (("module", d.modules), ("package", d.packages)):
        out += [f"| {title} | old | new | change |", "|---|---:|---:|---:|"]
        out += [f"| {_cell(r.name)} | {r.old} | {r.new} | {r.change:+d} |" for r in rows[:top]]
        out.append("")
    return "\n".join(out)
