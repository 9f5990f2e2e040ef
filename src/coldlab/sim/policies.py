"""Keep-alive policies: what happens to an environment when it goes idle.

A policy answers `windows()` with (pre-warm, keep-alive) in seconds, for the environment going idle now:
pre-warm 0 keeps the environment loaded for keep-alive seconds; pre-warm > 0 unloads it at once and loads a
fresh one pre-warm seconds later, kept for keep-alive seconds (SITW semantics). One policy object per
function; `record_gap` feeds it each idle time (arrival minus the previous invocation's end, as dslab does).

Boundary convention (all models): an environment idle for exactly its keep-alive is still warm; it is
reclaimed only when the gap is strictly longer.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from coldlab.errors import UsageError
from coldlab.sim.dists import Const, Dist, parse_dist


class KeepAlive(Protocol):
    name: str

    def record_gap(self, gap_s: float) -> None: ...

    def windows(self, rng: np.random.Generator) -> tuple[float, float]: ...

    def constant_keepalive(self) -> float | None:
        """The keep-alive when it never changes (enables the exact fast path), else None."""
        ...

    def describe(self) -> str: ...


class NoKeepAlive:
    """Reclaim every environment as soon as its request ends: every request is a cold start."""

    name = "none"

    def record_gap(self, gap_s: float) -> None:
        return None

    def windows(self, rng: np.random.Generator) -> tuple[float, float]:
        return 0.0, 0.0

    def constant_keepalive(self) -> float | None:
        return 0.0

    def describe(self) -> str:
        return "none (reclaim at once)"


class FixedKeepAlive:
    """Keep an idle environment for a fixed time, or one drawn per idle period (e.g. uniform 5-7 min)."""

    name = "fixed"

    def __init__(self, timeout: Dist) -> None:
        self.timeout = timeout
        self._const = timeout.value if isinstance(timeout, Const) else None
        self._buffer: list[float] = []

    def record_gap(self, gap_s: float) -> None:
        return None

    def windows(self, rng: np.random.Generator) -> tuple[float, float]:
        if self._const is not None:
            return 0.0, self._const
        if not self._buffer:  # draw in batches: one numpy call per 4096 idle periods
            self._buffer = list(self.timeout.sample(rng, 4096))
        return 0.0, self._buffer.pop()

    def constant_keepalive(self) -> float | None:
        return self._const

    def describe(self) -> str:
        return f"fixed keep-alive ({self.timeout.describe()})"


@dataclass(frozen=True)
class HybridParams:
    """Shahrad et al. ATC'20 defaults, as in dslab's HybridHistogramPolicy."""

    range_s: float = 4 * 3600.0
    bin_s: float = 60.0
    head: float = 0.05
    tail: float = 0.99
    hist_margin: float = 0.10
    cv_threshold: float = 2.0
    oob_threshold: float = 0.5
    forecast_margin: float = 0.15
    forecast_window: int = 5


class HybridHistogram:
    """Idle-time histogram per function (1-min bins over the range). Representative (CV of bin counts >= 2):
    pre-warm = 5th percentile bin (rounded down) - 10%, keep-alive = 99th percentile bin (rounded up) + 10%,
    counted from the pre-warm point. Not representative: keep alive for the whole range, no pre-warm.
    Mostly out-of-bounds idle times: instead of ARIMA, forecast the next idle time as the median of the last
    5 (documented simplification), pre-warm at forecast*(1-0.15) and keep alive 2*0.15*forecast."""

    name = "hybrid"

    def __init__(self, params: HybridParams | None = None) -> None:
        self.p = params or HybridParams()
        self.n_bins = round(self.p.range_s / self.p.bin_s)
        self.bins = np.zeros(self.n_bins, np.int64)
        self.in_range = 0
        self.oob = 0
        self.recent: deque[float] = deque(maxlen=self.p.forecast_window)
        self._cached: tuple[float, float] | None = None

    def record_gap(self, gap_s: float) -> None:
        self.recent.append(gap_s)
        index = int(gap_s // self.p.bin_s)
        if index < self.n_bins:
            self.bins[index] += 1
            self.in_range += 1
        else:
            self.oob += 1
        self._cached = None

    def cv(self) -> float:
        if self.in_range == 0:
            return 0.0
        mean = self.in_range / self.n_bins
        return float(np.std(self.bins, ddof=1) / mean)

    def pattern(self) -> str:
        total = self.in_range + self.oob
        if total and self.oob / total >= self.p.oob_threshold:
            return "out-of-bounds"
        return "representative" if self.cv() >= self.p.cv_threshold else "uncertain"

    def windows(self, rng: np.random.Generator) -> tuple[float, float]:
        if self._cached is None:
            self._cached = self._compute()
        return self._cached

    def _compute(self) -> tuple[float, float]:
        pattern = self.pattern()
        if pattern == "uncertain":
            return 0.0, self.p.range_s
        if pattern == "out-of-bounds":
            forecast = float(np.median(self.recent))
            m = self.p.forecast_margin
            return forecast * (1 - m), max(2 * m * forecast, self.p.bin_s)
        cumulative = np.cumsum(self.bins) / self.in_range
        head_bin = int(np.searchsorted(cumulative, self.p.head))
        tail_bin = int(np.searchsorted(cumulative, self.p.tail))
        prewarm = head_bin * self.p.bin_s * (1 - self.p.hist_margin)
        tail = (tail_bin + 1) * self.p.bin_s * (1 + self.p.hist_margin)
        return prewarm, max(tail - prewarm, self.p.bin_s)

    def constant_keepalive(self) -> float | None:
        return None

    def describe(self) -> str:
        hours = self.p.range_s / 3600
        cv = self.p.cv_threshold
        return f"hybrid histogram (range {hours:g} h, CV threshold {cv:g}, median-of-5 forecast)"


@dataclass(frozen=True)
class PolicySpec:
    """A picklable recipe: each simulated function gets its own fresh policy object."""

    kind: str = "fixed"
    timeout: str = "600"  # seconds, or a distribution spec in seconds
    hybrid: HybridParams = HybridParams()

    def build(self) -> KeepAlive:
        if self.kind == "none":
            return NoKeepAlive()
        if self.kind == "fixed":
            return FixedKeepAlive(parse_dist(self.timeout))
        if self.kind == "hybrid":
            return HybridHistogram(self.hybrid)
        raise UsageError(f"unknown keep-alive policy {self.kind!r}", "use none, fixed or hybrid")

    def describe(self) -> str:
        return self.build().describe()


def validate_policy(spec: PolicySpec) -> None:
    policy = spec.build()
    keep = policy.constant_keepalive()
    if keep is not None and not math.isfinite(keep):
        raise UsageError("keep-alive must be finite")
