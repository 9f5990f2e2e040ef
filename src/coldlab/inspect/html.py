"""A self-contained HTML treemap (inline SVG and CSS, no scripts from anywhere): module -> package.

The layout is the squarified treemap (Bruls, Huizing, van Wijk 2000), computed here in Python.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from coldlab.inspect.model import Report
from coldlab.inspect.render import flags_line, human, pct

W, H = 1200, 700


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


def squarify(sizes: Sequence[float], box: Rect) -> list[Rect]:
    """Rectangles for `sizes` (sorted descending) tiling `box` with aspect ratios near 1."""
    total = sum(sizes)
    if total <= 0 or not sizes:
        return [Rect(box.x, box.y, 0, 0) for _ in sizes]
    scale = box.w * box.h / total
    areas = [s * scale for s in sizes]
    out: list[Rect] = []
    x, y, w, h = box.x, box.y, box.w, box.h
    i = 0
    while i < len(areas):
        side = min(w, h)
        row = [areas[i]]
        i += 1
        while i < len(areas) and _worst([*row, areas[i]], side) <= _worst(row, side):
            row.append(areas[i])
            i += 1
        thick = sum(row) / side if side else 0
        pos = 0.0
        for a in row:
            length = a / thick if thick else 0
            # the row runs along the shorter side: a column when the box is wide, a band when it is tall
            out.append(Rect(x, y + pos, thick, length) if w >= h else Rect(x + pos, y, length, thick))
            pos += length
        if w >= h:
            x, w = x + thick, w - thick
        else:
            y, h = y + thick, h - thick
    return out


def _worst(row: list[float], side: float) -> float:
    s = sum(row)
    if not s or not side:
        return float("inf")
    return max(max(side * side * r / (s * s), (s * s) / (side * side * r)) for r in row if r > 0)


def _color(module: str, main: str) -> str:
    if module == main:
        return "#6aa84f"
    if module == "std":
        return "#6fa8dc"
    if module.startswith("("):
        return "#b7b7b7" if "DWARF" not in module and "symbol" not in module else "#b4a7d6"
    return "#f6b26b"


def report_html(report: Report, top_packages: int = 400) -> str:
    f = report.facts
    main = f.main_module.path if f.main_module else f.main_path
    by_module: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for p in report.packages[:top_packages]:
        by_module[p.module].append((p.name, p.size))
    modules = [m for m in report.modules if m.size > 0]
    boxes = squarify([m.size for m in modules], Rect(0, 0, W, H))
    svg: list[str] = []
    for mod, box in zip(modules, boxes, strict=True):
        color = _color(mod.name, main)
        tip = html.escape(f"{mod.name}: {mod.size} bytes ({pct(mod.size, report.file_size)})")
        svg.append(
            f'<g><title>{tip}</title><rect x="{box.x:.2f}" y="{box.y:.2f}" width="{box.w:.2f}" '
            f'height="{box.h:.2f}" fill="{color}" stroke="#333" stroke-width="1.5"/></g>'
        )
        pkgs = sorted(by_module.get(mod.name, []), key=lambda kv: -kv[1])
        inner = Rect(box.x + 2, box.y + 16, max(box.w - 4, 0), max(box.h - 18, 0))
        if pkgs and inner.w > 8 and inner.h > 8:
            rest = mod.size - sum(s for _, s in pkgs)
            items = pkgs + ([("(other)", rest)] if rest > 0 else [])
            for (name, size), r in zip(items, squarify([s for _, s in items], inner), strict=True):
                t = html.escape(f"{name}: {size} bytes ({pct(size, report.file_size)}) in {mod.name}")
                svg.append(
                    f'<g><title>{t}</title><rect x="{r.x:.2f}" y="{r.y:.2f}" width="{r.w:.2f}" '
                    f'height="{r.h:.2f}" fill="{color}" fill-opacity="0.55" stroke="#fff" '
                    'stroke-width="0.5"/>'
                    + (_label(name.rsplit("/", 1)[-1], r, 10) if r.w > 40 and r.h > 14 else "")
                    + "</g>"
                )
        if box.w > 50 and box.h > 14:
            svg.append(_label(f"{mod.name} {human(mod.size)}", Rect(box.x, box.y, box.w, 14), 12, bold=True))
    rows = "".join(
        f"<tr><td>{html.escape(m.name)}</td><td class=n>{m.size}</td>"
        f"<td class=n>{pct(m.size, report.file_size)}</td></tr>"
        for m in report.modules
    )
    findings = "".join(
        f"<li><b>{html.escape(x.title)}</b>: {html.escape(x.detail)} (fix: {html.escape(x.fix)})</li>"
        for x in report.findings
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>coldlab inspect: {html.escape(report.path)}</title>
<style>
body{{font:14px system-ui,sans-serif;margin:20px;color:#222}} svg text{{pointer-events:none}}
table{{border-collapse:collapse}} td.n{{text-align:right}}
td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}
</style></head><body>
<h1>{html.escape(report.path)}</h1>
<p>{report.file_size} bytes ({human(report.file_size)}), {human(report.zipped_size)} zipped,
{html.escape(f.go_version)},
{html.escape(flags_line(report))}. Every byte is counted once: the rectangles add up to the file size.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">{"".join(svg)}</svg>
<h2>Modules</h2><table><tr><th>module</th><th>bytes</th><th>%</th></tr>{rows}
<tr><td><b>total</b></td><td class=n><b>{report.file_size}</b></td><td class=n>100%</td></tr></table>
<h2>Findings</h2><ul>{findings}</ul>
</body></html>
"""


def _label(text: str, r: Rect, size: int, bold: bool = False) -> str:
    max_chars = max(int(r.w / (size * 0.6)), 1)
    if len(text) > max_chars:
        text = text[: max(max_chars - 1, 1)] + "…"
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{r.x + 3:.2f}" y="{r.y + size:.2f}" font-size="{size}"{weight} '
        f'font-family="sans-serif">{html.escape(text)}</text>'
    )
