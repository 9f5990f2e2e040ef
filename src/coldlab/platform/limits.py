"""The numbers around a pool of environments: keep-alive, the scaling rate, the account's concurrency.

Keep-alive: Lambda does not publish how long an idle environment lives; 5-7 minutes is what measurements
of idle functions show today (drawn per environment, uniformly). Scaling: since November 2023 each function
may add 1,000 environments per 10 s, refilled continuously and never banked (serve §2.6).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coldlab.errors import UsageError

ACCOUNT_MAX = 1000  # AWS's default account concurrency: coldlab never allows more
SCALE_BURST = 1000
SCALE_PER_S = 100.0  # 1,000 per 10 s
DEFAULT_KEEP_ALIVE_S = (300.0, 420.0)


@dataclass(frozen=True)
class KeepAlive:
    """How long an idle environment is kept: drawn per environment from [low_s, high_s]."""

    low_s: float = DEFAULT_KEEP_ALIVE_S[0]
    high_s: float = DEFAULT_KEEP_ALIVE_S[1]

    @classmethod
    def parse(cls, text: str) -> KeepAlive:
        """`--keep-alive S` (fixed) or `--keep-alive MIN,MAX` (uniform), in seconds."""
        parts = text.split(",")
        try:
            values = [float(part) for part in parts]
        except ValueError:
            values = []
        finite = all(0 <= v < float("inf") for v in values)  # also refuses NaN
        if len(values) not in (1, 2) or not finite or values[0] > values[-1]:
            raise UsageError(
                f"--keep-alive {text!r} is not SECONDS or MIN,MAX",
                "write e.g. --keep-alive 600 or --keep-alive 300,420 (seconds, MIN <= MAX)",
            )
        return cls(values[0], values[-1])

    def draw(self, rng: random.Random) -> float:
        return self.low_s if self.low_s == self.high_s else rng.uniform(self.low_s, self.high_s)

    def describe(self) -> str:
        if self.low_s == self.high_s:
            return f"{self.low_s:g} s"
        return f"uniform {self.low_s:g}-{self.high_s:g} s per environment"


class TokenBucket:
    """New environments per function: `capacity` at once, refilled at `rate` per second, never above it."""

    def __init__(
        self,
        capacity: float = SCALE_BURST,
        rate: float = SCALE_PER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = capacity
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def available_memory_mb(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable (what can be given to new processes without swapping), else the physical memory."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20


def default_account_limit(memory_mb: int, available_mb: int | None = None) -> int:
    """As many environments of `memory_mb` as this machine's memory holds, at least 1, at most 1,000."""
    available = available_memory_mb() if available_mb is None else available_mb
    return max(1, min(ACCOUNT_MAX, available // max(memory_mb, 1)))
