"""What a simulation measures, in mergeable form (sums, maxima, histograms), so per-function results from
worker processes combine into one report.

Latency percentiles come from a log-spaced histogram (100 bins per decade, 0.1 ms to 10^4 s), so they are
exact to about ±1.2%; counts and GB-seconds are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

_LOG_MIN, _PER_DECADE, _DECADES = -4.0, 100, 8
N_LAT_BINS = _PER_DECADE * _DECADES + 2  # + underflow and overflow


def latency_bins(latencies: FloatArray) -> IntArray:
    safe = np.maximum(latencies, 1e-12)
    idx = np.floor((np.log10(safe) - _LOG_MIN) * _PER_DECADE).astype(np.int64) + 1
    result: IntArray = np.clip(idx, 0, N_LAT_BINS - 1)
    return result


def latency_histogram(latencies: FloatArray) -> IntArray:
    counts: IntArray = np.bincount(latency_bins(latencies), minlength=N_LAT_BINS).astype(np.int64)
    return counts


def histogram_percentile(counts: IntArray, q: float) -> float:
    """The q-th percentile (0-100) as the geometric middle of its bin; nan when empty."""
    total = int(counts.sum())
    if total == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100.0 * total)))
    index = int(np.searchsorted(np.cumsum(counts), rank))
    return float(10 ** (_LOG_MIN + (index - 0.5) / _PER_DECADE))


def coverage(starts: FloatArray, ends: FloatArray, bin_s: float, nbins: int) -> FloatArray:
    """Seconds of [start, end) intervals that fall in each bin [k*bin_s, (k+1)*bin_s), in O(n): the partial
    first and last bins by bincount, whole bins in between by a difference array."""
    out = np.zeros(nbins)
    if len(starts) == 0:
        return out
    s = np.asarray(starts, np.float64)
    e = np.maximum(np.asarray(ends, np.float64), s)
    b0 = np.minimum((s // bin_s).astype(np.int64), nbins - 1)
    b1 = np.minimum((e // bin_s).astype(np.int64), nbins - 1)
    same = b0 == b1
    out += np.bincount(b0[same], weights=(e - s)[same], minlength=nbins)[:nbins]
    cross = ~same
    if cross.any():
        c0, c1 = b0[cross], b1[cross]
        out += np.bincount(c0, weights=(c0 + 1) * bin_s - s[cross], minlength=nbins)[:nbins]
        out += np.bincount(c1, weights=e[cross] - c1 * bin_s, minlength=nbins)[:nbins]
        diff = (
            np.bincount(c0 + 1, minlength=nbins + 1)[: nbins + 1]
            - np.bincount(c1, minlength=nbins + 1)[: nbins + 1]
        )
        out += np.cumsum(diff)[:nbins] * bin_s
    return out


MAX_TIMELINE_BINS = 1 << 20  # 24 MiB per timeline: a longer horizon coarsens the bins instead


@dataclass
class Timeline:
    """Per-bin cold starts, environment-seconds (alive: busy or idle-warm) and peak in-flight requests.

    Memory is bounded whatever the horizon: when a time would need more than MAX_TIMELINE_BINS bins, the
    bins are merged in pairs (bin_s doubles) until it fits, so bin_s is the requested width times 2^k.
    """

    bin_s: float
    cold: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    env_seconds: FloatArray = field(default_factory=lambda: np.zeros(0))
    throttled: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    requested_bin_s: float = 0.0  # the width asked for (bin_s may have grown)

    def __post_init__(self) -> None:
        if not self.requested_bin_s:
            self.requested_bin_s = self.bin_s

    def _fit(self, last_time: float) -> None:
        """Coarsen (before growing) so that `last_time` falls inside MAX_TIMELINE_BINS bins."""
        factor = 1
        while last_time / (self.bin_s * factor) >= MAX_TIMELINE_BINS:
            factor *= 2
        if factor > 1:
            self.coarsen(factor)

    def coarsen(self, factor: int) -> None:
        """Merge every `factor` bins into one."""
        size = len(self.cold)
        if size > factor:
            pad = -size % factor
            self.cold = np.pad(self.cold, (0, pad)).reshape(-1, factor).sum(axis=1)
            self.env_seconds = np.pad(self.env_seconds, (0, pad)).reshape(-1, factor).sum(axis=1)
            self.throttled = np.pad(self.throttled, (0, pad)).reshape(-1, factor).sum(axis=1)
        elif size:  # everything so far falls in the first bin
            self.cold = self.cold.sum(keepdims=True)
            self.env_seconds = self.env_seconds.sum(keepdims=True)
            self.throttled = self.throttled.sum(keepdims=True)
        self.bin_s *= factor

    def _grow(self, nbins: int) -> None:
        if nbins > len(self.cold):
            extra = nbins - len(self.cold)
            self.cold = np.concatenate([self.cold, np.zeros(extra, np.int64)])
            self.env_seconds = np.concatenate([self.env_seconds, np.zeros(extra)])
            self.throttled = np.concatenate([self.throttled, np.zeros(extra, np.int64)])

    def add_events(self, times: FloatArray, *, throttled: bool = False) -> None:
        if len(times) == 0:
            return
        self._fit(float(np.max(times)))
        idx = np.floor(np.asarray(times) / self.bin_s).astype(np.int64)
        self._grow(int(idx.max()) + 1)
        counts = np.bincount(idx, minlength=len(self.cold))
        if throttled:
            self.throttled += counts
        else:
            self.cold += counts

    def add_intervals(self, starts: FloatArray, ends: FloatArray) -> None:
        if len(starts) == 0:
            return
        self._fit(float(np.max(ends)))
        nbins = int(np.floor(float(np.max(ends)) / self.bin_s)) + 1
        self._grow(nbins)
        self.env_seconds += coverage(np.asarray(starts), np.asarray(ends), self.bin_s, len(self.cold))

    def merge(self, other: Timeline) -> None:
        if other.bin_s > self.bin_s:  # both are the requested width times a power of two
            self.coarsen(round(other.bin_s / self.bin_s))
        elif other.bin_s < self.bin_s:
            other = Timeline(
                other.bin_s, other.cold, other.env_seconds, other.throttled, other.requested_bin_s
            )
            other.coarsen(round(self.bin_s / other.bin_s))
        self._grow(len(other.cold))
        n = len(other.cold)
        self.cold[:n] += other.cold
        self.env_seconds[:n] += other.env_seconds
        self.throttled[:n] += other.throttled


@dataclass
class FunctionResult:
    """One simulated function (Lambda) or service (Cloud Run). All fields add up across functions except
    the peaks, which are per function."""

    name: str
    app: str
    memory_mb: float
    arrivals: int = 0
    served: int = 0
    throttled: int = 0
    cold_starts: int = 0
    envs_created: int = 0
    prewarms: int = 0
    spillover: int = 0  # served on on-demand environments while provisioned concurrency was configured
    provisioned: int = 0
    busy_s: float = 0.0  # executing (service + cold penalty)
    env_s: float = 0.0  # environments alive (busy or warm-idle)
    billed_ms: int = 0  # on-demand duration, 1 ms per request
    billed_init_ms: int = 0
    billed_pc_ms: int = 0  # duration run on provisioned environments
    queue_s: float = 0.0  # Cloud Run: total wait for a slot
    peak_envs: int = 0
    peak_inflight: int = 0
    horizon_s: float = 0.0
    fast_path: bool = False
    extra: dict[str, float] = field(default_factory=dict)  # model-specific sums (e.g. Cloud Run billing)

    @property
    def gb(self) -> float:
        return self.memory_mb / 1024.0

    @property
    def idle_s(self) -> float:
        if "idle_instance_s" in self.extra:  # Cloud Run: requests share instances, so count idle directly
            return self.extra["idle_instance_s"]
        return max(0.0, self.env_s - self.busy_s)

    @property
    def cold_pct(self) -> float:
        return 100.0 * self.cold_starts / self.served if self.served else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "app": self.app,
            "memory_mb": self.memory_mb,
            "arrivals": self.arrivals,
            "served": self.served,
            "throttled": self.throttled,
            "cold_starts": self.cold_starts,
            "cold_pct": round(self.cold_pct, 6),
            "envs_created": self.envs_created,
            "avg_envs": self.env_s / self.horizon_s if self.horizon_s else 0.0,
            "peak_envs": self.peak_envs,
            "idle_gb_s": self.idle_s * self.gb,
            "fast_path": self.fast_path,
        }


@dataclass
class RunTotals:
    """Everything merged across functions (per-function summaries kept for per-app percentiles)."""

    functions: list[FunctionResult] = field(default_factory=list)
    latency: IntArray = field(default_factory=lambda: np.zeros(N_LAT_BINS, np.int64))
    timeline: Timeline | None = None

    def add(self, result: FunctionResult, latency: IntArray, timeline: Timeline) -> None:
        self.functions.append(result)
        self.latency += latency
        if self.timeline is None:
            self.timeline = Timeline(timeline.bin_s, requested_bin_s=timeline.requested_bin_s)
        self.timeline.merge(timeline)
