"""The cold start as a waterfall PNG (or SVG): one bar per phase, each starting where the one before ended at
p50, with a whisker out to its p90. Measured rows are solid, modelled rows hatched and pale, so a reader never
takes a model for a measurement. Init Duration (what Lambda bills) is bracketed."""

from __future__ import annotations

from pathlib import Path

from coldlab.anatomy.analyze import Result
from coldlab.anatomy.build import INIT, MODELLED
from coldlab.tune.chart import check_path

MEASURED_COLOUR = "#1f77b4"
MODELLED_COLOUR = "#ff7f0e"


def write_waterfall(result: Result, path: Path) -> Path:
    check_path(path, "--png")
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = [p for p in result.anatomy.phases if p.p50_ms is not None]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(rows) + 1.8), dpi=110)
    try:
        start = 0.0
        init_span: list[float] = []
        for y, phase in enumerate(rows):
            p50 = max(phase.p50_ms or 0.0, 0.0)
            p90 = max(phase.p90_ms if phase.p90_ms is not None else p50, p50)
            modelled = phase.kind == MODELLED
            colour = MODELLED_COLOUR if modelled else MEASURED_COLOUR
            ax.barh(y, p50, left=start, color=colour, alpha=0.45 if modelled else 0.9,
                    hatch="//" if modelled else None, edgecolor=colour)  # fmt: skip
            whisker = [[0.0], [p90 - p50]]
            ax.errorbar(start + p50, y, xerr=whisker, fmt="none", ecolor="black", capsize=3, lw=1)
            ax.text(start + p90 + 2, y, f"{p50:.1f} ms", va="center", fontsize=8)
            if phase.billed == INIT:
                init_span.append(start)
                init_span.append(start + p50)
            start += p50
        if init_span:
            low, high = min(init_span), max(init_span)
            ax.axvspan(low, high, color="#2ca02c", alpha=0.08)
            ax.text(
                (low + high) / 2, -0.9, "Init Duration (billed)", ha="center", fontsize=8, color="#2ca02c"
            )
        ax.set_yticks(range(len(rows)), [p.name for p in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("milliseconds since the request arrived (p50 bars, p90 whiskers)")
        spec = result.spec
        ax.set_title(f"coldlab anatomy: {spec.path.name} at {spec.memory_mb} MB", fontsize=10)
        ax.legend(
            handles=[
                Patch(color=MEASURED_COLOUR, alpha=0.9, label="measured here"),
                Patch(facecolor=MODELLED_COLOUR, alpha=0.45, hatch="//", edgecolor=MODELLED_COLOUR,
                      label="modelled (Lambda only)"),
            ],
            loc="lower left", fontsize=8,
        )  # fmt: skip
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
