"""Readers for the Azure Functions 2019 trace files (Shahrad et al., ATC'20; AzurePublicDataset
`AzureFunctionsDataset2019.md`): per-minute invocation counts per function (streamed row by row), duration
percentiles per function, and memory per app. Errors name the file, line and column."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coldlab.errors import UsageError
from coldlab.sim.bounds import MAX_DURATION_S, MAX_MEMORY_MB, MAX_MINUTE_COUNT
from coldlab.sim.dists import Piecewise
from coldlab.sim.traces import check_width, csv_error, number, open_csv

AZURE_PERCENTILES = (0.0, 0.01, 0.25, 0.50, 0.75, 0.99, 1.0)
DURATION_COLUMNS = tuple(f"percentile_Average_{round(p * 100)}" for p in AZURE_PERCENTILES)


@dataclass(frozen=True)
class AzureFunction:
    owner: str
    app: str
    function: str
    trigger: str
    counts: tuple[int, ...]


def read_azure_durations(path: Path) -> dict[tuple[str, str, str], Piecewise]:
    """Duration percentiles (ms) per (owner, app, function), as piecewise inverse CDFs in seconds."""
    reader, header = open_csv(path)
    try:
        keys = [header.index(k) for k in ("HashOwner", "HashApp", "HashFunction")]
        cols = [header.index(c) for c in DURATION_COLUMNS]
    except ValueError as exc:
        raise UsageError(f"{path}:1: not an Azure 2019 durations file ({exc})") from None
    table = {}
    for line, row in reader:
        if not row:
            continue
        check_width(path, line, header, row)
        values = [
            number(path, line, header[c], row[c], limit=MAX_DURATION_S * 1000, what="duration (ms)") / 1000
            for c in cols
        ]
        table[(row[keys[0]], row[keys[1]], row[keys[2]])] = Piecewise(
            AZURE_PERCENTILES, tuple(np.maximum.accumulate(values))
        )
    return table


def read_azure_memory(path: Path) -> dict[tuple[str, str], float]:
    """Average allocated MB per (owner, app)."""
    reader, header = open_csv(path)
    try:
        owner, app, avg = (
            header.index("HashOwner"),
            header.index("HashApp"),
            header.index("AverageAllocatedMb"),
        )
    except ValueError as exc:
        raise UsageError(f"{path}:1: not an Azure 2019 memory file ({exc})") from None
    table = {}
    for line, row in reader:
        if not row:
            continue
        check_width(path, line, header, row)
        mb = number(path, line, "AverageAllocatedMb", row[avg], limit=MAX_MEMORY_MB, what="memory (MB)")
        table[(row[owner], row[app])] = mb
    return table


def read_azure_invocations(path: Path) -> Iterator[AzureFunction]:
    """Stream rows of invocations_per_function_md.anon.dNN.csv (HashOwner, HashApp, HashFunction, Trigger,
    1..1440)."""
    reader, header = open_csv(path)
    try:
        o, a, f, trig = (header.index(k) for k in ("HashOwner", "HashApp", "HashFunction", "Trigger"))
    except ValueError:
        raise UsageError(
            f"{path}:1: header lacks HashOwner, HashApp, HashFunction, Trigger",
            "pass invocations_per_function_md.anon.dNN.csv from the Azure 2019 dataset",
        ) from None
    minute_cols = [i for i, h in enumerate(header) if h.isdigit()]
    if not minute_cols:
        raise UsageError(f"{path}:1: no minute columns 1..1440 in the header")
    for line, row in reader:
        if not row:
            continue
        check_width(path, line, header, row)
        counts = []
        for c in minute_cols:
            cell = row[c]
            # str.isdigit accepts digits such as '²' that int() refuses: only ASCII takes the short cut
            if cell.isascii() and cell.isdigit() and len(cell) < 10:
                counts.append(int(cell))
                continue
            value = number(path, line, header[c], cell, limit=MAX_MINUTE_COUNT, what="count")
            if value != int(value):
                raise csv_error(path, line, header[c], f"not a whole count: {cell[:40]!r}")
            counts.append(int(value))
        yield AzureFunction(row[o], row[a], row[f], row[trig], tuple(counts))
