"""coldlab's memory does not grow with a function's log volume: lines stream to their sink, a bounded tail
is kept, and the output says how many lines the tail dropped."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from coldlab.platform.logtail import TAIL_BYTES, TAIL_LINES, LogTail
from support.runtime_scripts import ScriptFactory, run

MB = 1024 * 1024
# One invocation logs `mb` MiB in 100-byte lines, then answers.
LOGGER = """
import json
rid, headers, body = next_event()
mb = json.loads(body).get("mb", 1)
line = ("x" * 99 + "\\n") * 10_000  # 10,000 lines, about 1 MB
for _ in range(mb):
    sys.stdout.write(line)
sys.stdout.flush()
respond(rid, b'{"logged_mb": %d}' % mb)
next_event()
"""


def test_the_tail_keeps_the_last_lines_within_its_bounds() -> None:
    tail = LogTail(max_bytes=100, max_lines=5)
    for index in range(20):
        tail.append(f"line {index:02d}")
    assert tail.lines() == tuple(f"line {index:02d}" for index in range(15, 20))
    assert tail.dropped == 15
    tail = LogTail(max_bytes=25, max_lines=100)
    for index in range(10):
        tail.append(f"{index:09d}")  # 9 characters each: two fit in 25
    assert len(tail.lines()) == 2 and tail.dropped == 8
    tail.append("y" * 1000)  # one line longer than the bound is still kept whole: it is the last one
    assert tail.lines() == ("y" * 1000,)


def test_every_line_reaches_the_sink_while_the_result_keeps_a_bounded_tail(
    script_bootstrap: ScriptFactory,
) -> None:
    code = script_bootstrap(LOGGER)
    received = 0

    def sink(line: str) -> None:
        nonlocal received
        received += line == "x" * 99

    async def scenario() -> InvocationResult:
        async with Environment(FunctionConfig.create(code, timeout_s=60), log_sink=sink) as env:
            return await env.invoke(b'{"mb": 3}')

    result = run(scenario())
    assert result.ok
    assert received == 30_000  # streamed, none lost
    assert len(result.log_lines) <= TAIL_LINES
    assert sum(map(len, result.log_lines)) <= TAIL_BYTES + 200
    assert result.dropped_log_lines == 30_000 + 1 - (len(result.log_lines) - 3)  # START, END and REPORT kept
    assert result.log_lines[-1].startswith("REPORT RequestId: ")


def test_coldlab_memory_stays_bounded_under_a_flood_of_logs(script_bootstrap: ScriptFactory, tmp_path: Path) -> None:
    """150 MB of logs through `coldlab invoke --json`: before the tail, coldlab held every line (RSS grew past
    the log volume); now its peak stays under 100 MB. The peak is the kernel's (getrusage's ru_maxrss)."""
    code = script_bootstrap(LOGGER)
    event = tmp_path / "event.json"
    event.write_text('{"mb": 150}')
    coldlab = Path(sys.executable).parent / "coldlab"
    argv = [str(coldlab), "invoke", str(code), "--event", str(event), "--timeout", "120", "--json"]
    out_path, err_path, peak_path = tmp_path / "out.json", tmp_path / "err.txt", tmp_path / "peak"
    # A small wrapper runs coldlab and reports its peak: a child's ru_maxrss starts from the RSS of the
    # process it was forked from (this pytest process, hundreds of MB late in a run), so not from here.
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[2:], check=False).returncode\n"
        "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
        "sys.exit(code)\n"
    )
    with out_path.open("wb") as out, err_path.open("wb") as err:
        status = subprocess.run(
            [sys.executable, "-c", wrapper, str(peak_path), *argv], stdout=out, stderr=err, check=False
        ).returncode
    assert status == 0, err_path.read_text()
    document = json.loads(out_path.read_bytes())
    (invocation,) = document["invocations"]
    assert invocation["payload"] == {"logged_mb": 150}
    assert invocation["dropped_log_lines"] > 1_000_000
    assert any("dropped" in warning for warning in document["warnings"])
    peak = int(peak_path.read_text()) * 1024  # coldlab, or what it reaped (zygote, bootstrap)
    assert peak < 100 * MB, f"coldlab peaked at {peak / MB:.0f} MB"
