"""PNG/SVG chart: cost per 1M invocations against duration, only measured points, one series per arch,
with the Pareto front joined, the knee and the recommendation marked."""

from __future__ import annotations

from pathlib import Path

from coldlab.errors import UsageError
from coldlab.tune.analysis import Analysis

_COLOURS = {"x86_64": "#1f77b4", "arm64": "#d62728"}


def check_path(path: Path, flag: str = "--chart", suffixes: tuple[str, ...] = (".png", ".svg")) -> None:
    """Fail before a long run, not after it, when an output path cannot be written."""
    if suffixes and path.suffix.lower() not in suffixes:
        endings = " or ".join(suffixes)
        raise UsageError(f"{flag} {path}: unsupported file type", f"give a path ending in {endings}")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {path.parent} does not exist", "create it first")


def write_chart(analysis: Analysis, path: Path, title: str = "coldlab tune") -> Path:
    check_path(path)
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # SVG text stays text (searchable, smaller)

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    try:
        for arch in analysis.archs:
            colour = _COLOURS.get(arch.arch, "#555555")
            costs = sorted(arch.costs, key=lambda c: c.memory_mb)
            if not costs:
                continue
            ax.scatter([c.duration_ms for c in costs], [c.per_million for c in costs], color=colour,
                       label=f"{arch.arch}: measured sizes", zorder=3)
            for c in costs:
                ax.annotate(f"{c.memory_mb} MB", (c.duration_ms, c.per_million), textcoords="offset points",
                            xytext=(5, 4), fontsize=8, color=colour)
            front = [c for c in costs if c.memory_mb in arch.pareto]
            front.sort(key=lambda c: c.per_million)
            ax.plot([c.duration_ms for c in front], [c.per_million for c in front], color=colour,
                    linestyle="--", linewidth=1, label=f"{arch.arch}: Pareto front", zorder=2)
            knee = arch.cost_of(arch.knee) if arch.knee is not None else None
            if knee is not None:
                ax.scatter([knee.duration_ms], [knee.per_million], s=180, facecolors="none",
                           edgecolors=colour, linewidths=1.5, zorder=4,
                           label=f"{arch.arch}: knee ({knee.memory_mb} MB)")
            pick = arch.cost_of(arch.recommended) if arch.recommended is not None else None
            if pick is not None:
                ax.scatter([pick.duration_ms], [pick.per_million], marker="*", s=260, color=colour,
                           edgecolors="black", zorder=5,
                           label=f"{arch.arch}: {analysis.strategy} pick ({pick.memory_mb} MB)")
        ax.set_xlabel("duration, warm trimmed mean (ms)")
        ax.set_ylabel("cost per 1M invocations (USD)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        if analysis.archs:
            fig.text(0.01, 0.01, analysis.archs[0].recommendation, fontsize=8, wrap=True)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
