"""Rich tables for people. Builds renderables; the CLI prints them."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from coldlab.inspect.budgets import Breach
from coldlab.inspect.diff import Diff
from coldlab.inspect.inittrace import InitTrace
from coldlab.inspect.model import Report, Size


def human(n: float) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return f"{sign}{n:.1f} GiB"


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def flags_line(report: Report) -> str:
    f = report.facts
    bits = [
        f"{f.goos}/{f.goarch}" + (f" {f.arch_level}" if f.arch_level else ""),
        "cgo on" if f.cgo_enabled else "cgo off",
        "symbols stripped" if f.symbols_stripped else "symbols kept",
        "DWARF stripped" if f.dwarf_stripped else "DWARF kept",
        "trimpath" if f.trimpath else "no trimpath",
        "PIE" if f.pie else "not PIE",
        "dynamic" if f.dynamically_linked else "static",
    ]
    return ", ".join(bits)


def top_modules(report: Report, top: int) -> tuple[Size, ...]:
    """The largest modules, plus the main module wherever it ranks (it is the one the reader owns)."""
    f = report.facts
    main = f.main_module.path if f.main_module else f.main_path
    rows = report.modules[:top]
    if all(m.name != main for m in rows):
        rows += tuple(m for m in report.modules if m.name == main)
    return rows


def report_view(
    report: Report, top: int = 15, trace: InitTrace | None = None, breaches: list[Breach] | None = None
) -> RenderableType:
    f = report.facts
    parts: list[RenderableType] = [
        Text.assemble(
            (report.path, "bold"),
            f"  {human(report.file_size)} ({report.file_size} bytes), "
            f"{human(report.zipped_size)} zipped, {f.go_version}",
        ),
        Text(flags_line(report)),
        Text(
            f"Lambda RPC mode: {f.lambda_rpc} (evidence: {f.lambda_rpc_evidence}); "
            f"main module: {f.main_module.path if f.main_module else f.main_path}; "
            f"{len(f.deps)} dependencies; {report.function_count} functions"
        ),
    ]
    parts += [Text(f"note: {n}", style="dim") for n in f.notes]
    parts.append(_sizes("Modules", top_modules(report, top), report.file_size))
    pk = Table(title=f"Packages (top {top})", title_justify="left")
    for col in ("package", "module", "bytes", "%", "code"):
        pk.add_column(col, justify="right" if col in ("bytes", "%", "code") else "left")
    for p in report.packages[:top]:
        pk.add_row(
            p.name, p.module, human(p.size), pct(p.size, report.file_size), human(p.detail.get("code", 0))
        )
    parts.append(pk)
    parts.append(_sizes("Sections", report.sections, report.file_size))
    fn = Table(title="Largest functions", title_justify="left")
    fn.add_column("function")
    fn.add_column("bytes", justify="right")
    for func in report.functions[:10]:
        fn.add_row(func.name, str(func.size))
    parts.append(fn)
    if report.init_packages is not None:
        init = sorted(report.init_packages, key=lambda i: -i.code_bytes)[:10]
        it = Table(
            title=f"Packages with init work: {len(report.init_packages)} (largest init code)",
            title_justify="left",
        )
        for col in ("package", "init functions", "code bytes"):
            it.add_column(col, justify="right" if col != "package" else "left")
        for i in init:
            it.add_row(i.package, str(len(i.functions)), str(i.code_bytes))
        parts.append(it)
    if trace is not None:
        parts.append(trace_view(trace))
    fd = Table(title="Findings", title_justify="left")
    for col in ("", "finding", "bytes", "saves", "fix"):
        fd.add_column(col, justify="right" if col in ("bytes", "saves") else "left")
    for x in report.findings:
        mark = Text("!", style="yellow bold") if x.severity == "warn" else Text("i", style="cyan")
        fd.add_row(
            mark,
            f"{x.title}\n[dim]{x.detail}[/dim]",
            human(x.bytes) if x.bytes else "",
            human(x.saving) if x.saving else "",
            x.fix,
        )
    parts.append(fd)
    for b in breaches or []:
        parts.append(Text(f"BUDGET EXCEEDED: {b.message}", style="red bold"))
    return Group(*parts)


def _sizes(title: str, rows: tuple[object, ...], total: int) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("name")
    t.add_column("bytes", justify="right")
    t.add_column("%", justify="right")
    for r in rows:
        t.add_row(r.name, human(r.size), pct(r.size, total))  # type: ignore[attr-defined]
    t.add_row("[bold]total[/bold]", f"[bold]{human(total)}[/bold]", "100.0%")
    return t


def trace_view(trace: InitTrace) -> RenderableType:
    t = Table(
        title=(
            f"Init trace (GODEBUG=inittrace=1): {len(trace.entries)} packages, "
            f"{trace.clock_ms:.2f} ms package init, "
            + (
                f"{trace.init_duration_ms:.1f} ms exec to first /next"
                if trace.init_duration_ms is not None
                else "no init duration"
            )
        ),
        title_justify="left",
    )
    for col in ("package", "module", "@ms", "clock ms", "bytes", "allocs"):
        t.add_column(col, justify="left" if col in ("package", "module") else "right")
    for e in trace.slowest():
        t.add_row(e.package, e.module, f"{e.start_ms:g}", f"{e.clock_ms:g}", str(e.bytes), str(e.allocs))
    notes = [Text(f"note: {n}", style="dim") for n in trace.notes]
    return Group(t, *notes)


def diff_view(d: Diff, top: int = 20) -> RenderableType:
    parts: list[RenderableType] = [
        Text(
            f"{d.old_path} -> {d.new_path}: {human(d.old_size)} -> {human(d.new_size)} "
            f"({'+' if d.new_size >= d.old_size else ''}{d.new_size - d.old_size} bytes)"
        )
    ]
    for title, rows in (("Modules", d.modules), ("Packages", d.packages), ("Sections", d.sections)):
        t = Table(title=f"{title} that changed", title_justify="left")
        for col in ("name", "old", "new", "change"):
            t.add_column(col, justify="left" if col == "name" else "right")
        for r in rows[:top]:
            t.add_row(r.name, str(r.old), str(r.new), f"{'+' if r.change > 0 else ''}{r.change}")
        parts.append(t)
    return Group(*parts)
