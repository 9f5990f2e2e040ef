"""A Go binary cut short anywhere says "truncated", never "damaged headers" (issue 11 item 8).

Go's linker puts the section header table near the start of the file, so a cut file keeps its headers and
loses the sections they point to; unstripped and cgo builds (DWARF, .dynamic) reached pyelftools' reads
past the end before this was checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coldlab.errors import ColdlabError
from coldlab.inspect.analyze import inspect_bytes

pytestmark = pytest.mark.go

BUILDS = {
    "stripped": ("hello-go", {}),
    "unstripped": ("hello-go", {"strip": False}),
    "386": ("hello-go", {"goarch": "386", "strip": False}),
}


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_every_cut_says_truncated(go_build: Any, name: str) -> None:
    package, options = BUILDS[name]
    data = Path(go_build(package, **options)).read_bytes()
    n = len(data)
    cuts = [40, 63, 64, 100, 500, 2070, 4096, *range(5000, n, n // 37), n - 4096, n - 1]
    for cut in cuts:
        with pytest.raises(ColdlabError) as caught:
            inspect_bytes(Path("cut"), data[:cut])
        message = str(caught.value)
        assert message.startswith("cut: truncated"), (cut, message)
        assert "damaged" not in message
