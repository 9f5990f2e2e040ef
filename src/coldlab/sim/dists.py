"""Seeded distributions for service times, cold-start penalties and idle timeouts (values in seconds).

Spec strings (`parse_dist`): `const:V`, `exp:MEAN`, `uniform:A,B`, `normal:MEAN,SD` (clipped at 0),
`lognormal:MU,SIGMA` (of the underlying normal, in log-seconds after scaling), `empirical:FILE.json`.
The CLI passes `scale=0.001` so users write milliseconds for durations and penalties.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from coldlab.errors import UsageError

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class Dist(Protocol):
    def sample(self, rng: np.random.Generator, n: int) -> FloatArray: ...

    def mean(self) -> float: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Const:
    value: float

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.full(n, self.value)

    def mean(self) -> float:
        return self.value

    def describe(self) -> str:
        return f"const {self.value:g} s"


@dataclass(frozen=True)
class Exponential:
    mean_s: float

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.exponential(self.mean_s, n)

    def mean(self) -> float:
        return self.mean_s

    def describe(self) -> str:
        return f"exponential mean {self.mean_s:g} s"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.uniform(self.low, self.high, n)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def describe(self) -> str:
        return f"uniform {self.low:g}-{self.high:g} s"


@dataclass(frozen=True)
class Normal:
    mu: float
    sd: float

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.maximum(rng.normal(self.mu, self.sd, n), 0.0)  # a duration cannot be negative

    def mean(self) -> float:
        return self.mu  # before clipping; close when sd << mu

    def describe(self) -> str:
        return f"normal {self.mu:g}±{self.sd:g} s (clipped at 0)"


@dataclass(frozen=True)
class LogNormal:
    mu: float
    sigma: float

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.lognormal(self.mu, self.sigma, n)

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def describe(self) -> str:
        return f"lognormal mu {self.mu:g} sigma {self.sigma:g} (log s)"


@dataclass(frozen=True)
class Piecewise:
    """Inverse CDF interpolated linearly between (probability, value) points, e.g. Azure's percentiles."""

    probs: tuple[float, ...]
    values: tuple[float, ...]

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return np.interp(rng.random(n), self.probs, self.values)

    def mean(self) -> float:
        p, v = np.asarray(self.probs), np.asarray(self.values)
        return float(np.sum(np.diff(p) * (v[1:] + v[:-1]) / 2))

    def describe(self) -> str:
        return f"piecewise percentiles, median {float(np.interp(0.5, self.probs, self.values)):g} s"


@dataclass(frozen=True)
class Empirical:
    """Resample measured values (e.g. INIT durations from `coldlab invoke --json`)."""

    values: tuple[float, ...]
    origin: str

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        return rng.choice(np.asarray(self.values), n)

    def mean(self) -> float:
        return float(np.mean(self.values))

    def describe(self) -> str:
        return f"empirical {len(self.values)} values from {self.origin}"


def _numbers(text: str, count: int, spec: str) -> list[float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"bad distribution {spec!r}: parameters must be numbers") from None
    if len(values) != count or any(v < 0 or not math.isfinite(v) for v in values):
        raise UsageError(f"bad distribution {spec!r}: expected {count} non-negative number(s)")
    return values


def parse_dist(spec: str, *, scale: float = 1.0) -> Dist:
    """Parse a spec; numeric parameters are multiplied by `scale` (e.g. 0.001 for milliseconds)."""
    kind, _, args = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("const", "fixed") or (not args and _is_number(kind)):
        (v,) = _numbers(args or kind, 1, spec)
        return Const(v * scale)
    if kind in ("exp", "exponential"):
        (m,) = _numbers(args, 1, spec)
        return Exponential(m * scale)
    if kind == "uniform":
        lo, hi = _numbers(args, 2, spec)
        if hi < lo:
            raise UsageError(f"bad distribution {spec!r}: uniform needs A <= B")
        return Uniform(lo * scale, hi * scale)
    if kind in ("normal", "gauss"):
        mu, sd = _numbers(args, 2, spec)
        return Normal(mu * scale, sd * scale)
    if kind == "lognormal":
        try:
            mu, sigma = (float(p) for p in args.split(","))
        except ValueError:
            raise UsageError(f"bad distribution {spec!r}: lognormal:MU,SIGMA") from None
        if not (math.isfinite(mu) and math.isfinite(sigma)) or sigma < 0:
            raise UsageError(f"bad distribution {spec!r}: MU must be finite and SIGMA finite and >= 0")
        return LogNormal(mu + math.log(scale), sigma)
    if kind == "empirical":
        return load_empirical(Path(args), scale=scale)
    raise UsageError(
        f"unknown distribution {spec!r}",
        "use const:V, exp:MEAN, uniform:A,B, normal:MEAN,SD, lognormal:MU,SIGMA or empirical:FILE.json",
    )


def typical(dist: Dist) -> float:
    """A value the distribution's requests really take (its mean; the median for a lognormal, whose mean
    a large sigma sends to infinity; the largest value of an empirical list)."""
    if isinstance(dist, LogNormal):
        return math.exp(min(dist.mu, 700.0))
    if isinstance(dist, Empirical):
        return max(dist.values)
    if isinstance(dist, Uniform):
        return dist.high
    return dist.mean()


def check_bound(dist: Dist, option: str, limit_s: float, *, unit_scale: float = 0.001) -> Dist:
    """Refuse a distribution whose typical value is beyond `limit_s` (seconds); the message uses the
    option's own unit (ms when `unit_scale` is 0.001)."""
    value = typical(dist)
    if value > limit_s:
        unit = "ms" if unit_scale == 0.001 else "s"
        raise UsageError(
            f"{option}: {dist.describe()} is beyond the bound of {limit_s / unit_scale:g} {unit}",
            "give the value in milliseconds" if unit == "ms" else "give a smaller value",
        )
    return dist


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _ms_value(v: object) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v) and v >= 0
    except OverflowError:  # an integer too large for a float
        return False


def load_empirical(path: Path, *, scale: float = 0.001) -> Empirical:
    """Values (ms by default) from a JSON list, {"values_ms": [...]}, or a `coldlab invoke --json` document
    (its non-null `init_duration_ms`)."""
    from coldlab.sim.textfile import read_json_bytes

    try:
        doc = json.loads(read_json_bytes(path))
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() converts
        raise UsageError(f"{path}:1:1: not usable JSON ({str(exc)[:80]})") from None
    except RecursionError:
        raise UsageError(f"{path}:1:1: JSON nested too deeply") from None
    raw: Any
    if isinstance(doc, list):
        raw = doc
    elif isinstance(doc, dict) and "values_ms" in doc:
        raw = doc["values_ms"]
    elif isinstance(doc, dict) and isinstance(doc.get("invocations"), list):
        raw = [i.get("init_duration_ms") for i in doc["invocations"] if isinstance(i, dict)]
        raw = [v for v in raw if v is not None]
    else:
        raise UsageError(
            f"{path}:1: expected a list of ms values, {{'values_ms': [...]}} or coldlab invoke JSON"
        )
    if not isinstance(raw, list) or not raw or not all(_ms_value(v) for v in raw):
        raise UsageError(f"{path}:1: needs a list of at least one finite, non-negative number of ms")
    return Empirical(tuple(float(v) * scale for v in raw), str(path))
