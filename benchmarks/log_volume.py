"""coldlab's memory under a flood of function logs: 1 GB logged in one invocation, against no logs at all.

Runs `coldlab invoke --json` (the mode that keeps lines for its document) and `coldlab invoke` (lines to
stderr, here /dev/null) on a bootstrap that writes N MB of 100-byte lines and then answers. Each run's peak
RSS is the kernel's (wait4's ru_maxrss: coldlab, or what it reaped, whichever is larger); the lines counted
are those coldlab reports (kept + dropped from the tail). Baseline in the same run: the same function
logging 0 MB. Target (issue 11): coldlab stays under 100 MB with 1 GB of logs. Never fails on a figure.

    .venv/bin/python benchmarks/log_volume.py [--mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from support.runtime_scripts import write_script_bootstrap  # noqa: E402 (the tests' scripted bootstrap)

LOGGER = """
import json
rid, headers, body = next_event()
mb = json.loads(body)["mb"]
line = ("x" * 99 + "\\n") * 10_000
for _ in range(mb):
    sys.stdout.write(line)
sys.stdout.flush()
respond(rid, b'{"logged_mb": %d}' % mb)
next_event()
"""
MB = 1024 * 1024


def run(code: Path, mb: int, as_json: bool, tmp: Path) -> tuple[float, int, float, int]:
    """(peak RSS MB, lines coldlab saw, seconds, exit code) of one `coldlab invoke`."""
    event = tmp / "event.json"
    event.write_text(json.dumps({"mb": mb}))
    coldlab = Path(sys.executable).parent / "coldlab"
    argv = [str(coldlab), "invoke", str(code), "--event", str(event), "--timeout", "900"]
    argv += ["--json"] if as_json else []
    out_path = tmp / "out"
    with out_path.open("wb") as out, Path(os.devnull).open("wb") as err:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        start = time.perf_counter()
        pid = os.posix_spawn(str(coldlab), argv, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        elapsed = time.perf_counter() - start
    lines = -1
    if as_json:
        (invocation,) = json.loads(out_path.read_bytes())["invocations"]
        lines = invocation["dropped_log_lines"] + len(invocation["log_lines"]) - 4  # 4 platform lines
    return usage.ru_maxrss / 1024, lines, elapsed, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="MB to log (in 100-byte lines)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        code = write_script_bootstrap(tmp / "code", LOGGER)
        print(f"{'run':<34} {'peak RSS':>9} {'lines seen':>12} {'seconds':>8} exit")
        peaks = {}
        for mb in (0, args.mb):
            for as_json in (False, True):
                peak, lines, seconds, code_ = run(code, mb, as_json, tmp)
                label = f"{mb} MB logged, {'--json' if as_json else 'text to stderr'}"
                seen = f"{lines:,}" if lines >= 0 else "(stderr)"
                print(f"{label:<34} {peak:7.1f} MB {seen:>12} {seconds:8.1f} {code_}")
                peaks[(mb, as_json)] = peak
        worst = max(peaks[(args.mb, False)], peaks[(args.mb, True)])
        growth = worst - max(peaks[(0, False)], peaks[(0, True)])
        print(f"target: peak {worst:.1f} MB with {args.mb} MB of logs < 100 MB "
              f"{'MET' if worst < 100 else 'MISSED'}; growth over the no-log baseline {growth:+.1f} MB")


if __name__ == "__main__":
    main()
