"""Generate a day in the Azure Functions 2019 file format (invocations, durations, memory), seeded.

Shapes follow the paper's characterisation loosely (54% of apps have one function; per-function rates
log-uniform over 5.5 orders of magnitude; 15% timers firing every 1-60 min; a diurnal swing on a 50%
baseline; log-normal durations; Burr-like app memory). It is a stand-in for the real trace (which is not
vendored: licence and size), good for tests, examples and the speed benchmark, not for conclusions.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from coldlab.sim.azure import DURATION_COLUMNS

MINUTES = 1440


def _hash(rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("0123456789abcdef"), 16))


def write_azure_day(
    directory: Path, *, apps: int = 1000, seed: int = 1, max_rate_per_min: float = 316.0, day: int = 1
) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    inv = directory / f"invocations_per_function_md.anon.d{day:02d}.csv"
    dur = directory / f"function_durations_percentiles.anon.d{day:02d}.csv"
    mem = directory / f"app_memory_percentiles.anon.d{day:02d}.csv"
    minute = np.arange(MINUTES)
    diurnal = 0.5 + 0.5 * (1 - np.cos(2 * np.pi * minute / MINUTES))
    with inv.open("w", newline="") as fi, dur.open("w", newline="") as fd, mem.open("w", newline="") as fm:
        wi, wd, wm = csv.writer(fi), csv.writer(fd), csv.writer(fm)
        wi.writerow(["HashOwner", "HashApp", "HashFunction", "Trigger", *[str(m + 1) for m in minute]])
        wd.writerow(
            [
                "HashOwner",
                "HashApp",
                "HashFunction",
                "Average",
                "Count",
                "Minimum",
                "Maximum",
                *DURATION_COLUMNS,
            ]
        )
        wm.writerow(
            [
                "HashOwner",
                "HashApp",
                "SampleCount",
                "AverageAllocatedMb",
                "AverageAllocatedMb_pct1",
                "AverageAllocatedMb_pct5",
                "AverageAllocatedMb_pct25",
                "AverageAllocatedMb_pct50",
                "AverageAllocatedMb_pct75",
                "AverageAllocatedMb_pct95",
                "AverageAllocatedMb_pct99",
                "AverageAllocatedMb_pct100",
            ]
        )
        for _ in range(apps):
            owner, app = _hash(rng), _hash(rng)
            nfun = 1 if rng.random() < 0.54 else int(min(50, 2 + rng.geometric(0.35)))
            for _ in range(nfun):
                fn = _hash(rng)
                if rng.random() < 0.15:
                    trigger = "timer"
                    every = int(rng.choice([1, 5, 10, 15, 30, 60]))
                    counts = np.zeros(MINUTES, np.int64)
                    counts[int(rng.integers(every)) :: every] = 1
                else:
                    trigger = str(rng.choice(["http", "queue", "event", "storage"], p=[0.6, 0.2, 0.1, 0.1]))
                    rate = 10 ** rng.uniform(-3, np.log10(max_rate_per_min))
                    counts = rng.poisson(rate * diurnal)
                wi.writerow([owner, app, fn, trigger, *counts.tolist()])
                median_ms = float(np.exp(rng.normal(np.log(300), 1.5)))
                spread = np.array([0.05, 0.2, 0.6, 1.0, 1.6, 5.0, 12.0])
                pct = np.round(median_ms * spread, 3)
                wd.writerow(
                    [
                        owner,
                        app,
                        fn,
                        round(median_ms * 1.3, 3),
                        int(counts.sum()),
                        pct[0],
                        pct[-1],
                        *pct.tolist(),
                    ]
                )
            mb = float(np.clip(rng.lognormal(np.log(170), 0.6), 20, 3000))
            wm.writerow(
                [
                    owner,
                    app,
                    1440 * 12,
                    round(mb, 1),
                    *[round(mb * f, 1) for f in (0.6, 0.7, 0.85, 1.0, 1.1, 1.3, 1.5, 2.0)],
                ]
            )
    return inv, dur, mem
