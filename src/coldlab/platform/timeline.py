"""The pool over time, for the dashboard: a ring buffer of samples taken every ~0.5 s, and the last REPORTs.

Each sample holds, per function, how many environments were in each state (initializing, busy, idle-frozen,
provisioned: a provisioned environment that is idle; busy or initializing ones count as such) and the
function's running totals (invokes, cold starts, throttles), so a reader works out rates and marks cold
starts from the differences between samples. The buffer is fixed in size (10 minutes at 0.5 s), so a
server that runs for days holds the same memory as one that has just started.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coldlab.platform.pool import Pool

INTERVAL_S = 0.5
CAPACITY = 1200  # 10 minutes of samples
REPORTS_KEPT = 10  # REPORT lines kept per function
STATES = ("initializing", "busy", "idle_frozen", "provisioned")


@dataclass(frozen=True)
class FunctionSample:
    """One function at one moment: environments by state, and running totals."""

    initializing: int = 0
    busy: int = 0
    idle_frozen: int = 0
    provisioned: int = 0
    invokes: int = 0
    cold_starts: int = 0
    throttles: int = 0

    @property
    def environments(self) -> int:
        return self.initializing + self.busy + self.idle_frozen + self.provisioned

    def as_dict(self) -> dict[str, int]:
        return {
            "initializing": self.initializing,
            "busy": self.busy,
            "idle_frozen": self.idle_frozen,
            "provisioned": self.provisioned,
            "invokes": self.invokes,
            "cold_starts": self.cold_starts,
            "throttles": self.throttles,
        }


@dataclass(frozen=True)
class Sample:
    seq: int  # 1, 2, 3, ... never reused, so a reader asks for what came after the last one it saw
    t: float  # Unix time, seconds
    functions: Mapping[str, FunctionSample]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": round(self.t, 3),
            "functions": {name: fs.as_dict() for name, fs in self.functions.items()},
        }


Census = Callable[[], Mapping[str, FunctionSample]]


def census(pool: Pool) -> dict[str, FunctionSample]:
    """Every function the pool knows, counted now."""
    tallies: dict[str, dict[str, int]] = {}
    for slot in pool.slots():
        state = slot.describe()
        if state == "idle-frozen":
            key = "idle_frozen" if slot.provisioned_for is None else "provisioned"
        elif state in ("initializing", "busy"):
            key = state
        elif state == "new" and slot.provisioned_for is not None:
            key = "provisioned"  # started ahead of traffic, not initialized yet: still provisioned capacity
        else:
            continue  # new and unused, or closed: not an environment anyone can see working
        tally = tallies.setdefault(slot.version.config.function_name, dict.fromkeys(STATES, 0))
        tally[key] += 1
    names = set(tallies) | set(pool.counts)
    result: dict[str, FunctionSample] = {}
    for name in sorted(names):
        counts = pool.count(name)
        result[name] = FunctionSample(
            **tallies.get(name, {}),
            invokes=counts.invokes,
            cold_starts=counts.cold_starts,
            throttles=counts.throttles,
        )
    return result


class Timeline:
    """Samples `source()` every `interval_s` once started; keeps the last `capacity` samples."""

    def __init__(
        self,
        source: Census,
        *,
        interval_s: float = INTERVAL_S,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.interval_s = interval_s
        self.capacity = capacity
        self._source = source
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=capacity)
        self._reports: dict[str, deque[str]] = {}
        self._seq = 0
        self._handle: asyncio.TimerHandle | None = None

    # --- sampling -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Sample now and every interval after (on the running loop); a second call does nothing."""
        if self._handle is None:
            self._tick()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        self.sample()
        self._handle = asyncio.get_running_loop().call_later(self.interval_s, self._tick)

    def sample(self) -> Sample:
        self._seq += 1
        taken = Sample(self._seq, self._clock(), self._source())
        self._samples.append(taken)
        return taken

    # --- REPORT lines ---------------------------------------------------------------------------------

    def report(self, function: str, line: str) -> None:
        """Keep `line` among the function's last REPORT lines."""
        kept = self._reports.get(function)
        if kept is None:
            kept = self._reports[function] = deque(maxlen=REPORTS_KEPT)
        kept.append(line)

    def reports(self, function: str) -> list[str]:
        return list(self._reports.get(function, ()))

    def forget(self, function: str) -> None:
        self._reports.pop(function, None)

    # --- reading ----------------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._seq

    def since(self, seq: int) -> list[Sample]:
        """The samples after `seq` still in the buffer (all of them for 0), oldest first."""
        if not self._samples or seq >= self._seq:
            return []
        first = self._samples[0].seq
        skip = max(0, seq - first + 1)
        return [self._samples[i] for i in range(skip, len(self._samples))]

    def describe(self, since: int | None = None) -> dict[str, Any]:
        """JSON-ready: the buffer's shape, and the samples after `since` when it is given."""
        described: dict[str, Any] = {
            "interval_s": self.interval_s,
            "capacity": self.capacity,
            "last_seq": self._seq,
        }
        if since is not None:
            described["samples"] = [sample.as_dict() for sample in self.since(since)]
        return described


def is_report(line: str) -> bool:
    """A REPORT line, in the text format or the JSON one (`"type":"platform.report"`)."""
    return line.startswith("REPORT ") or (line.startswith("{") and '"platform.report"' in line)
