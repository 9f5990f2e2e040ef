"""Readers for the Azure Functions 2019 trace files (Shahrad et al., ATC'20; AzurePublicDataset
`AzureFunctionsDataset2019.md`): per-minute invocation counts per function (streamed row by row), duration
percentiles per function, and memory per app. Errors name the file, line and column."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coldlab.errors import UsageError
from coldlab.sim.dists import Piecewise
from coldlab.sim.traces import check_width, csv_error, open_csv

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
    for line, row in enumerate(reader, start=2):
        values = []
        for c in cols:
            try:
                v = float(row[c])
            except (ValueError, IndexError):
                raise csv_error(
                    path, line, header[c], f"not a number: {row[c] if c < len(row) else ''!r}"
                ) from None
            if v < 0:
                raise csv_error(path, line, header[c], f"duration must be >= 0, got {v}")
            values.append(v / 1000.0)
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
    for line, row in enumerate(reader, start=2):
        try:
            mb = float(row[avg])
        except (ValueError, IndexError):
            raise csv_error(path, line, "AverageAllocatedMb", "not a number") from None
        if mb < 0:
            raise csv_error(path, line, "AverageAllocatedMb", f"must be >= 0, got {mb}")
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
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        check_width(path, line, header, row)
        counts = []
        for c in minute_cols:
            cell = row[c]
            if not cell.isdigit():
                try:
                    value = float(cell)
                except ValueError:
                    raise csv_error(path, line, header[c], f"not a count: {cell!r}") from None
                if value < 0:
                    raise csv_error(path, line, header[c], f"negative count {cell}")
                if value != int(value):
                    raise csv_error(path, line, header[c], f"not a whole count: {cell!r}")
                counts.append(int(value))
            else:
                counts.append(int(cell))
        yield AzureFunction(row[o], row[a], row[f], row[trig], tuple(counts))
