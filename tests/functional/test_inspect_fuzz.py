"""Hypothesis: corrupted and truncated Go binaries never make anything but coldlab's own error escape."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coldlab.errors import ColdlabError
from coldlab.inspect.analyze import inspect_bytes
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.pclntab import locate

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def subject(go_build: Any) -> tuple[bytes, list[tuple[int, int]]]:
    """A stripped hello-go and the byte ranges where damage is most interesting."""
    path: Path = go_build("hello-go")
    data = path.read_bytes()
    image = ElfImage.open(path)
    _, pcln, _ = locate(image)
    regions = [(0, 64), (64, 64 + 56 * 8), (image.shdr_range[0], image.size), (pcln, pcln + 256)]
    nfunc = struct.unpack_from("<Q", data, pcln + 8)[0]
    functab = pcln + struct.unpack_from("<Q", data, pcln + 64)[0]
    regions.append((functab, functab + 8 * nfunc + 4096))
    for name in (".go.buildinfo", ".go.module", ".gopclntab"):
        sec = image.section(name)
        if sec is not None:
            regions.append((sec.offset, sec.end))
    return data, regions


def _check(data: bytes) -> None:
    message = ""
    try:
        report = inspect_bytes(Path("fuzzed"), data)
    except ColdlabError as exc:  # the only exception allowed out; it must name the file
        message = str(exc)
    if message:
        assert message.startswith("fuzzed")
    else:
        assert sum(r.size for r in report.ledger) == len(data)


patches = st.lists(
    st.tuples(
        st.integers(0, 10**9),
        st.integers(0, 2**31),
        st.integers(1, 8),
        st.sampled_from(["random", "zero", "ones"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=int(os.environ.get("COLDLAB_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(patches=patches, cut=st.one_of(st.none(), st.integers(0, 10**9)))
def test_corrupted_binaries_raise_only_coldlab_errors(
    subject: tuple[bytes, list[tuple[int, int]]], patches: list[tuple[int, int, int, str]], cut: int | None
) -> None:
    data, regions = subject
    buf = bytearray(data)
    for region_pick, value, width, style in patches:
        start, end = regions[region_pick % len(regions)]
        pos = start + (value % max(end - start, 1))
        fill = {"random": value.to_bytes(4, "little") * 2, "zero": b"\0" * 8, "ones": b"\xff" * 8}[style]
        buf[pos : pos + width] = fill[:width]
    if cut is not None:
        buf = buf[: cut % (len(buf) + 1)]
    _check(bytes(buf))


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_coldlab_errors(blob: bytes) -> None:
    _check(blob)
    _check(b"\x7fELF\x02\x01\x01" + blob)
