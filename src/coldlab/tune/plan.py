"""The tuning plan: what will be run, as data (shown by `coldlab tune --dry-run`), built from validated input.

Nothing here runs a function. Bad input (memory sizes, event files, weights) raises UsageError naming
what is wrong and where.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.config import ARCHITECTURES, MEMORY_MAX_MB, MEMORY_MIN_MB
from coldlab.errors import EventError, UsageError
from coldlab.events import read_event

DEFAULT_MEMORY = (128, 256, 512, 1024, 1769, 3008)
STRATEGIES = ("cost", "speed", "balanced")
DEFAULT_TRIM = 0.2  # aws-lambda-power-tuning's discardTopBottom default
DEFAULT_COLD_SHARE = 0.01  # "cold starts typically occur in under 1% of invocations" (AWS operator guide)
_AWS_TARGET = re.compile(r"^aws:([A-Za-z0-9_-]{1,64})(?::([a-z]{2}(?:-[a-z]+)+-\d))?$")


@dataclass(frozen=True)
class Target:
    """Where the function runs: a local code directory (or zip), or an AWS Lambda function."""

    kind: str  # "local" | "aws"
    code: Path | None = None
    function_name: str | None = None
    region: str | None = None

    def describe(self) -> str:
        if self.kind == "local":
            return f"local:{self.code}"
        return f"aws:{self.function_name}" + (f":{self.region}" if self.region else "")


@dataclass(frozen=True)
class Plan:
    """Everything a tuning run will do, fixed before the first invocation."""

    target: Target
    memory_sizes: tuple[int, ...]
    invocations: int  # warm invocations per memory size
    events: tuple[bytes, ...]  # one payload per warm invocation slot (weighted events expanded)
    event_labels: tuple[str, ...]  # where each distinct payload came from, for the report
    parallel: int
    cold: int  # fresh environments per memory size (each gives one cold invocation)
    archs: tuple[str, ...]  # empty: the architecture the durations are measured on
    strategy: str
    weight: float
    trim: float = DEFAULT_TRIM
    cold_share: float = DEFAULT_COLD_SHARE
    timeout_s: int = 30

    @property
    def cold_per_size(self) -> int:
        """Cold invocations per memory size: `--cold N`, but at least one per environment warm work needs."""
        return max(self.cold, min(self.parallel, self.invocations), 1)

    @property
    def total_invocations(self) -> int:
        return len(self.memory_sizes) * (self.invocations + self.cold_per_size)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.describe(),
            "memory_sizes_mb": list(self.memory_sizes),
            "warm_invocations_per_size": self.invocations,
            "cold_invocations_per_size": self.cold_per_size,
            "total_invocations": self.total_invocations,
            "parallel": self.parallel,
            "events": list(self.event_labels),
            "architectures": list(self.archs) or "auto (the one measured on)",
            "strategy": self.strategy,
            "balanced_weight": self.weight,
            "trimmed_mean_discard": self.trim,
            "cold_share_assumed": self.cold_share,
            "timeout_s": self.timeout_s,
        }


def parse_memory(text: str) -> tuple[int, ...]:
    """'128,256,1769' → (128, 256, 1769), sorted and unique; UsageError on anything else."""
    sizes: set[int] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if not item.isdigit():
            raise UsageError(
                f"--memory: {item!r} is not a memory size in MB",
                f"give whole numbers from {MEMORY_MIN_MB} to {MEMORY_MAX_MB}, e.g. --memory 128,512,1769",
            )
        size = int(item)
        if not MEMORY_MIN_MB <= size <= MEMORY_MAX_MB:
            raise UsageError(
                f"--memory: {size} MB is out of range",
                f"Lambda allows {MEMORY_MIN_MB} to {MEMORY_MAX_MB} MB",
            )
        sizes.add(size)
    if not sizes:
        raise UsageError("--memory lists no memory sizes", "e.g. --memory 128,256,512,1024,1769,3008")
    return tuple(sorted(sizes))


def parse_target(text: str | None, path: str | None) -> Target:
    """`--target aws:FUNCTION[:REGION]`, or the local PATH argument."""
    if text is None or text == "local":
        if not path:
            raise UsageError("no function to tune", "give a code directory (PATH) or --target aws:FUNCTION")
        return Target("local", code=Path(path))
    match = _AWS_TARGET.match(text)
    if match is None:
        raise UsageError(
            f"--target {text!r} is not understood",
            "use --target aws:FUNCTION or aws:FUNCTION:REGION (e.g. aws:my-fn:eu-west-1), or give PATH",
        )
    return Target("aws", function_name=match.group(1), region=match.group(2))


def parse_archs(text: str) -> tuple[str, ...]:
    if text == "auto":
        return ()
    if text == "both":
        return ARCHITECTURES
    if text not in ARCHITECTURES:
        raise UsageError(f"--arch {text!r} is not supported", "use auto, x86_64, arm64 or both")
    return (text,)


def _read_json(path: Path, flag: str) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EventError(f"{flag} {path}: cannot read it ({exc.strerror})", "check the path") from exc
    except UnicodeDecodeError as exc:
        raise EventError(f"{flag} {path}: is not UTF-8 text", "give a JSON file") from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise EventError(f"{flag} {path}: is not JSON ({exc})", "give a file holding one JSON value") from exc


def _payload_bytes(value: Any) -> bytes:
    # A string payload is sent as-is (power tuning does the same); anything else as compact JSON.
    return value.encode() if isinstance(value, str) else json.dumps(value, separators=(",", ":")).encode()


def load_weighted(path: Path) -> list[tuple[bytes, float]]:
    """A JSON list of {"payload": ..., "weight": number > 0} objects, as aws-lambda-power-tuning takes."""
    data = _read_json(path, "--events")
    if not isinstance(data, list) or not data:
        raise EventError(
            f"--events {path}: expected a non-empty JSON list of {{\"payload\": ..., \"weight\": N}}",
            "see README: coldlab tune, weighted events",
        )
    items: list[tuple[bytes, float]] = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or "payload" not in item or "weight" not in item:
            raise EventError(
                f"--events {path}: item {index} needs both \"payload\" and \"weight\"",
                "write each item as {\"payload\": {...}, \"weight\": 3}",
            )
        weight = item["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            raise EventError(
                f"--events {path}: item {index} has weight {weight!r}", "weights are numbers greater than 0"
            )
        items.append((_payload_bytes(item["payload"]), float(weight)))
    return items


def expand_weighted(items: list[tuple[bytes, float]], slots: int) -> list[bytes]:
    """Split `slots` invocations between payloads in proportion to weight (largest remainder).

    Like power tuning, every payload must get at least one invocation, so `slots >= len(items)`.
    """
    if slots < len(items):
        raise UsageError(
            f"-n {slots} is fewer than the {len(items)} weighted events",
            f"use -n {len(items)} or more so every event runs at least once",
        )
    total = sum(weight for _, weight in items)
    exact = [weight * slots / total for _, weight in items]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(items)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: slots - sum(counts)]:
        counts[i] += 1
    for i, count in enumerate(counts):
        if count == 0:
            raise UsageError(
                f"weighted event {i} gets no invocation with -n {slots}",
                "raise -n or the event's weight",
            )
    # Interleave rather than run each payload in a block, so no payload sees only warm-up effects.
    queues = [[payload] * count for (payload, _), count in zip(items, counts, strict=True)]
    expanded: list[bytes] = []
    position = [0.0] * len(items)
    step = [slots / count for count in counts]
    while len(expanded) < slots:
        i = min((j for j in range(len(items)) if queues[j]), key=lambda j: position[j])
        expanded.append(queues[i].pop())
        position[i] += step[i]
    return expanded


def build_plan(
    target: Target,
    *,
    memory: str,
    invocations: int,
    event: str | None = None,
    events: Path | None = None,
    parallel: int = 1,
    cold: int = 0,
    arch: str = "auto",
    strategy: str = "cost",
    weight: float = 0.5,
    timeout_s: int = 30,
    cold_share: float = DEFAULT_COLD_SHARE,
    trim: float = DEFAULT_TRIM,
) -> Plan:
    """Validate every input and fix the plan; raises UsageError/EventError on bad input."""
    sizes = parse_memory(memory)
    if invocations < 1:
        # a pick from cold starts alone would rank sizes by init time, not by what most invocations see
        raise UsageError(
            f"-n {invocations}: a recommendation needs at least one warm invocation per memory size",
            "give -n 1 or more; cold invocations come on top with --cold",
        )
    if parallel < 1:
        raise UsageError(f"--parallel {parallel} must be at least 1")
    if cold < 0:
        raise UsageError(f"--cold {cold} is negative", "give the number of fresh environments per size")
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy {strategy!r} is unknown", "use cost, speed or balanced")
    if not 0.0 <= weight <= 1.0:
        raise UsageError(f"--weight {weight} is out of range", "use 0 (speed) to 1 (cost)")
    if not 0.0 <= trim <= 0.4:
        raise UsageError(f"--trim {trim} is out of range", "use 0 to 0.4 (share cut from each end)")
    if not 0.0 <= cold_share <= 1.0:
        raise UsageError(f"--cold-share {cold_share} is out of range", "use a fraction from 0 to 1")
    if event is not None and events is not None:
        raise UsageError("--event and --events cannot be used together", "pick one")
    if events is not None:
        weighted = load_weighted(events)
        slots = expand_weighted(weighted, invocations)
        labels = tuple(f"{events}[{i}] weight {w:g}" for i, (_, w) in enumerate(weighted))
    else:
        payload = read_event(event)  # a file, '-' for stdin, or None for {}
        slots = [payload] * invocations
        labels = (event if event is not None else "{}",)
    return Plan(
        target=target,
        memory_sizes=sizes,
        invocations=invocations,
        events=tuple(slots),
        event_labels=labels,
        parallel=parallel,
        cold=cold,
        archs=parse_archs(arch),
        strategy=strategy,
        weight=weight,
        cold_share=cold_share,
        timeout_s=timeout_s,
        trim=trim,
    )
