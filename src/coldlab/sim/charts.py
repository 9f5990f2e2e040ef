"""A PNG of environments and cold starts over time (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coldlab.errors import UsageError
from coldlab.sim.metrics import Timeline


def write_png(timeline: Timeline, path: Path, *, title: str, horizon_s: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(timeline.cold)
    if horizon_s:  # requests still running after the horizon would draw a last, partial bin
        n = min(n, max(1, int(np.ceil(horizon_s / timeline.bin_s))))
    minutes = np.arange(n) * timeline.bin_s / 60.0
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    top.step(minutes, timeline.env_seconds[:n] / timeline.bin_s, where="post", color="tab:blue")
    top.set_ylabel("environments (bin avg)")
    top.set_title(title)
    bottom.bar(
        minutes,
        timeline.cold[:n],
        width=timeline.bin_s / 60.0,
        align="edge",
        color="tab:red",
        label="cold starts",
    )
    if timeline.throttled[:n].any():
        bottom.bar(
            minutes,
            timeline.throttled[:n],
            width=timeline.bin_s / 60.0,
            align="edge",
            color="tab:gray",
            alpha=0.6,
            label="throttled",
        )
    bottom.set_ylabel(f"per {timeline.bin_s:g} s")
    bottom.set_xlabel("time (min)")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(fig)
