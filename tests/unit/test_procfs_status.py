"""StatusFiles: a sandbox's processes' VmHWM read through kept-open /proc/<pid>/status descriptors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coldlab.sandbox.procfs import StatusFiles, peak_rss_bytes


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_it_reads_what_peak_rss_bytes_reads_and_lets_a_gone_process_go() -> None:
    script = "import time; b = bytearray(30 << 20); print('ready', flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"  # its peak is reached
    files = StatusFiles()
    before = open_fds()
    try:
        peak = files.peak(child.pid)
        assert peak >= 30 << 20
        assert peak == peak_rss_bytes(child.pid)
        assert files.peak(child.pid) == peak  # read again through the same descriptor
        assert open_fds() == before + 1
        files.keep_only([child.pid])
        assert open_fds() == before + 1
    finally:
        child.kill()
        child.wait()
    assert files.peak(child.pid) == 0  # reaped: the descriptor is dropped, not reused for a new pid
    assert open_fds() == before
    assert files.peak(child.pid) == 0  # and a reopen fails quietly
    files.close()
    assert open_fds() == before
    child.stdout.close()
