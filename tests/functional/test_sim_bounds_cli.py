"""`coldlab simulate` and `coldlab plan` on bad and oversized input: one line, exit 2, before any work
(issue 11 items 6 and 7); --force runs beyond the bound; long runs show a progress bar on stderr."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from coldlab.cli import cli

EXAMPLES = Path(__file__).parents[2] / "examples" / "traces"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _one_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    assert lines[0].startswith("coldlab: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rate", "nan"], "--rate must be a finite number > 0, got nan"),
        (["--rate", "inf"], "--rate must be a finite number > 0, got inf"),
        (["--rate", "-2"], "--rate must be a finite number > 0, got -2"),
        (["--rate", "1e9", "--horizon", "1h"], "the plan is about 3.6e+12 requests"),
        (["--horizon", "99999d"], "the plan is about 8.64e+09 requests"),
        (["--horizon", "9" * 400], "--horizon must be a finite time > 0"),
        (["--duration", "exp:1e14"], "--duration: exponential mean 1e+11 s is beyond the bound"),
        (["--cold-start", "const:1e12"], "--cold-start: const 1e+09 s is beyond the bound"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--keep-alive", "hybrid", "--hybrid-range", "99999d"], "--hybrid-range must be at most 14d"),
        (["--provisioned", "5000"], "--provisioned 5000 is above the concurrency limit of 1000"),
        (["--platform", "cloudrun", "--min-instances", "9", "--max-instances", "3"], "--min-instances 9"),
        (["--vcpu", "nan"], "--vcpu must be a finite number > 0"),
        (["--recycle-hours", "inf"], "--recycle-hours must be a finite number > 0"),
    ],
)
def test_bad_options_are_one_line(args: list[str], expected: str) -> None:
    line = _one_line(*_run("simulate", "--pattern", "steady", *args)[::2])
    assert expected in line


def test_the_bound_and_the_estimate_are_stated() -> None:
    line = _one_line(*_run("simulate", "--pattern", "steady", "--rate", "1e9", "--horizon", "1h")[::2])
    assert "over the bound of 1e+08 requests" in line and "pass --force" in line
    assert "--rate 1e+09/s x --horizon 3600 s" in line


def test_force_runs_a_long_horizon_in_bounded_memory() -> None:
    code, out, err = _run(
        "simulate", "--pattern", "steady", "--rate", "0.00001", "--horizon", "99999d", "--force", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["horizon_s"] == 99999 * 86400
    assert any("timeline bins widened from 60 s" in n for n in doc["notes"])


def test_plan_sweeps_are_estimated_and_bounded() -> None:
    args = ["plan", "--pattern", "steady", "--duration", "const:0.001", "--horizon", "1h"]
    line = _one_line(*_run(*args)[::2])
    assert "break-even sweep up to" in line and "over the bound of 1e+08 requests" in line
    code, out, err = _run(*args, "--no-break-even", "--pc", "1", "--min-instances", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["break_even"] is None
    assert "--pc 5000 is above" in _one_line(*_run("plan", "--pattern", "steady", "--pc", "5000")[::2])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\x01\x02\x03binary\xff", ":1:"),
        (b"timestamp,duration_ms\n1,5\n\xe9t\xe9,6\n", "t.csv:3:1: column 'timestamp': not UTF-8 text"),
        (
            b"timestamp,duration_ms\n1," + b"8" * 140_000 + b"\n",
            "t.csv:2: column 'duration_ms': line longer than",
        ),
        (
            b"timestamp,duration_ms\n1,1e14\n",
            "t.csv:2: column 'duration_ms': duration 1e14 is over the bound",
        ),
        (
            b"timestamp,duration_ms\n1e12,5\n",
            "t.csv:2: column 'timestamp': timestamp (s) 1e12 is over the bound",
        ),
    ],
)
def test_bad_trace_files_are_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    trace = tmp_path / "t.csv"
    trace.write_bytes(content)
    assert expected in _one_line(*_run("simulate", "--invocations", str(trace))[::2])


def test_a_gzipped_trace_gives_the_same_result(tmp_path: Path) -> None:
    packed = tmp_path / "invocations.csv.gz"
    packed.write_bytes(gzip.compress((EXAMPLES / "invocations.csv").read_bytes()))
    plain = json.loads(_run("simulate", "--invocations", str(EXAMPLES / "invocations.csv"), "--json")[1])
    code, out, err = _run("simulate", "--invocations", str(packed), "--json")
    assert code == 0, err
    assert json.loads(out)["totals"] == plain["totals"]


def _coldlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # the timeout only guards against a hang
        [sys.executable, "-m", "coldlab", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_a_fifo_trace_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "trace.csv"
    os.mkfifo(fifo)
    done = _coldlab("simulate", "--invocations", str(fifo))
    line = _one_line(done.returncode, done.stderr)
    assert f"{fifo}: not a regular file" in line


# The bar appears after COLDLAB_PROGRESS_DELAY_S (about a second by default): 0 shows it at once, a large
# value never, so neither test depends on how fast the machine is. TTY_COMPATIBLE makes rich draw on a pipe.
@pytest.mark.parametrize(
    ("args", "label"),
    [
        (["simulate", "--pattern", "steady", "--rate", "5", "--horizon", "20m"], "% of simulated time"),
        (["simulate", "--invocations", str(EXAMPLES / "invocations.csv")], "2/2"),
        (["plan", "--pattern", "steady", "--horizon", "5m", "--no-break-even", "--pc", "1"], "planning"),
    ],
)
def test_progress_bar_on_stderr(args: list[str], label: str) -> None:
    shown = _coldlab(*args, env={"COLDLAB_PROGRESS_DELAY_S": "0", "TTY_COMPATIBLE": "1"})
    assert shown.returncode == 0, shown.stderr
    assert label in shown.stderr
    hidden = _coldlab(*args, env={"COLDLAB_PROGRESS_DELAY_S": "3600", "TTY_COMPATIBLE": "1"})
    assert hidden.returncode == 0 and label not in hidden.stderr.split("coldlab ")[0]
    assert "simulating" not in hidden.stderr and "planning" not in hidden.stderr
