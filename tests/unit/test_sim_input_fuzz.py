"""Hypothesis over the bytes of simulator inputs (issue 11 item 9): a per-invocation CSV, the three Azure 2019
files and an empirical-values JSON either parse or raise a ColdlabError that names the file and the line
(and the column, for a cell) - never anything else, whatever the bytes: random, mutated, huge numbers,
gzip-compressed (read transparently) or damaged gzip."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from coldlab.errors import ColdlabError
from coldlab.sim.azure import read_azure_durations, read_azure_invocations, read_azure_memory
from coldlab.sim.azuregen import write_azure_day
from coldlab.sim.dists import load_empirical
from coldlab.sim.traces import invocation_functions, partition_invocations, read_invocations

EXAMPLES = Path(__file__).parents[2] / "examples" / "traces"
FUZZ = settings(max_examples=int(os.environ.get("COLDLAB_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_inputs(tmp: Path) -> dict[str, bytes]:
    inv, dur, mem = write_azure_day(tmp / "azure", apps=3, seed=5)
    return {
        "invocations": (EXAMPLES / "invocations.csv").read_bytes()[:4000].rsplit(b"\n", 1)[0] + b"\n",
        "azure-invocations": inv.read_bytes()[:20000].rsplit(b"\n", 1)[0] + b"\n",
        "azure-durations": dur.read_bytes(),
        "azure-memory": mem.read_bytes(),
        "empirical": b'{"values_ms": [49.5, 51.0, 48.2]}',
    }


def _read_all(kind: str, path: Path, scratch: Path) -> None:
    readers: dict[str, Callable[[], Any]] = {
        "invocations": lambda: (
            list(read_invocations(path, None)),
            invocation_functions(path),
            partition_invocations(path, scratch),
        ),
        "azure-invocations": lambda: list(read_azure_invocations(path)),
        "azure-durations": lambda: read_azure_durations(path),
        "azure-memory": lambda: read_azure_memory(path),
        "empirical": lambda: load_empirical(path),
    }
    readers[kind]()


def _check(kind: str, data: bytes, tmp: Path) -> None:
    path = tmp / f"fuzzed-{kind}.csv"
    path.write_bytes(data)
    scratch = tmp / "parts"
    scratch.mkdir(exist_ok=True)
    try:
        _read_all(kind, path, scratch)
    except ColdlabError as exc:  # the only exception allowed out
        message = str(exc)
        assert "\n" not in message
        # the file and a line number, e.g. "…/fuzzed-x.csv:3: column 'duration': …" or "…csv:2:7: …"
        assert re.match(rf"^{re.escape(str(path))}:\d+(:\d+)?: ", message), message
        cell_problems = ("not a number", "must be >= 0", "over the bound", "not a whole count", "columns, got")
        if kind != "empirical" and any(p in message for p in cell_problems):
            assert ": column " in message, message  # a problem with one cell names its column


KINDS = ["invocations", "azure-invocations", "azure-durations", "azure-memory", "empirical"]


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(data=st.binary(max_size=3000))
@example(data=b"\x1f\x8b\x08\x00garbage")  # a gzip header over damaged data
@example(data=b"\xfd7zXZ\x00\x00")  # xz
@example(data=b"timestamp,duration\n1,\xff\xfe\n")
@example(data=b"\x00\x01\x02")
def test_random_bytes(kind: str, data: bytes, tmp_path: Path) -> None:
    _check(kind, data, tmp_path)


HUGE = st.sampled_from(
    [
        b"1e14",
        b"1e12",
        b"1e400",
        b"-1e400",
        b"nan",
        b"inf",
        b"99999999999999999999999",
        b"-0",
        b"1e-400",
        b"\xd9\xa3",
        b"\xc2\xb2",
        b'"1,2"',
        b'"',
        b"\r",
        b"\x00",
    ]
)


@st.composite
def mutations(draw: st.DrawFn, original: bytes) -> bytes:
    """A valid file with a few edits: bytes replaced, cut short, a number made huge, or a long field."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "huge", "long", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        elif action == "huge":
            data[at:at] = draw(HUGE)
        elif action == "long":
            data[at:at] = b"7" * draw(st.sampled_from([1000, 131_073, 200_000]))
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@pytest.mark.parametrize("kind", KINDS)
@FUZZ
@given(seed=st.data(), compress=st.booleans())
def test_mutated_valid_files(kind: str, seed: st.DataObject, compress: bool, tmp_path: Path) -> None:
    original = _valid_inputs(tmp_path)[kind]
    data = seed.draw(mutations(original))
    if compress:
        data = gzip.compress(data)
        if seed.draw(st.booleans()):  # and damage the compressed stream too
            at = seed.draw(st.integers(10, max(10, len(data) - 1)))
            data = data[:at] + bytes([data[at % len(data)] ^ 0x55]) + data[at + 1 :]
    _check(kind, data, tmp_path)


@pytest.mark.parametrize("kind", KINDS)
def test_valid_files_parse_plain_and_gzipped_alike(kind: str, tmp_path: Path) -> None:
    original = _valid_inputs(tmp_path)[kind]
    plain, packed = tmp_path / "plain", tmp_path / "packed.gz"
    plain.write_bytes(original)
    packed.write_bytes(gzip.compress(original))
    if kind == "invocations":
        a = [x.tolist() for chunk in read_invocations(plain, None) for x in chunk]
        b = [x.tolist() for chunk in read_invocations(packed, None) for x in chunk]
        assert a == b and a
    elif kind == "azure-invocations":
        assert list(read_azure_invocations(plain)) == list(read_azure_invocations(packed))
    elif kind == "azure-durations":
        assert read_azure_durations(plain) == read_azure_durations(packed)
    elif kind == "azure-memory":
        assert read_azure_memory(plain) == read_azure_memory(packed)
    else:
        assert load_empirical(plain).values == load_empirical(packed).values
