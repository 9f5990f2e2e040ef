"""Limits on what a simulation may be asked to do, checked before anything is allocated.

Values in input files are bounded per cell (the loaders name the file, line and column); the work of a
whole run is estimated up front (requests = rate x horizon, per run, over every run of a sweep) and a plan
beyond MAX_REQUESTS is refused unless the user passes --force. Memory no longer depends on the horizon:
timelines coarsen their bins to stay within MAX_TIMELINE_BINS (see metrics.Timeline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coldlab.errors import UsageError

DAY_S = 86400.0
MAX_DURATION_S = (
    DAY_S  # one request: Lambda stops at 15 min and Cloud Run at 60 min; a day is surely bad data
)
MAX_TIMESTAMP_S = 3650 * DAY_S  # ten years after the start of the trace
MAX_MINUTE_COUNT = 10**9  # invocations of one function in one minute (16.7 M/s)
MAX_MEMORY_MB = 32768.0  # Cloud Run's largest instance (Lambda's is 10,240 MB)
MAX_HYBRID_RANGE_S = 14 * DAY_S  # the hybrid policy's histogram: 20,160 one-minute bins
MAX_REQUESTS = 100_000_000  # per command: about 2 minutes on the fast path, 8 in the event kernel
FAST_PATH_RATE = 800_000.0  # requests per second, measured on one core (README, coldlab simulate)
KERNEL_RATE = 200_000.0


def check_finite(value: float, option: str, *, positive: bool = True) -> float:
    """A float option must be a finite number (> 0 when `positive`, else >= 0)."""
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise UsageError(f"{option} must be a finite number {bound}, got {value:g}")
    return value


@dataclass(frozen=True)
class Work:
    """How much a command will simulate, estimated before it runs."""

    requests: float  # expected arrivals, summed over every run
    runs: int = 1
    what: str = ""  # how the estimate was made, e.g. "--rate 1e+09/s x --horizon 3600 s"

    def seconds(self, fast: bool = True) -> float:
        return self.requests / (FAST_PATH_RATE if fast else KERNEL_RATE)


def check_work(work: Work, *, force: bool, fast: bool = True, shorten: str = "shorten --horizon") -> None:
    """Refuse a plan beyond MAX_REQUESTS unless forced; the message says the bound and the estimate."""
    if force or work.requests <= MAX_REQUESTS:
        return
    runs = f" over {work.runs} runs" if work.runs > 1 else ""
    raise UsageError(
        f"the plan is about {work.requests:.3g} requests{runs} ({work.what}; about "
        f"{_duration(work.seconds(fast))} to simulate), over the bound of {MAX_REQUESTS:.0e} requests",
        f"{shorten}, lower --rate, or pass --force to run it anyway",
    )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", DAY_S), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.2g} s"
