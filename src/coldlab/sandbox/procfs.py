"""Reading memory use from /proc, for hosts without a memory cgroup."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

_PROC = Path("/proc")


def tree_pids(root: int) -> list[int]:
    """`root` and its live descendants, from each thread's `children` list (no scan of all of /proc: this
    runs on every invoke, and a scan costs milliseconds on a busy machine)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            threads = [task.name for task in (_PROC / str(pid) / "task").iterdir()]
        except OSError:
            continue  # it exited while we looked
        found.append(pid)
        for tid in threads:
            try:
                children = (_PROC / str(pid) / "task" / tid / "children").read_text()
                todo.extend(int(child) for child in children.split())
            except OSError:
                continue
    return found


def _vm_hwm(status: bytes) -> int:
    start = status.index(b"VmHWM:") + 6
    return int(status[start : status.index(b"kB", start)]) * 1024


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of resident memory (VmHWM) for one process; 0 if it is gone.

    Read with os.open/os.read on a plain string path: this runs on every invoke, and pathlib and a
    buffered file object cost more than the read itself (VmHWM sits in the first 1-2 KB of status)."""
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return _vm_hwm(os.read(fd, 4096))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return 0  # gone, or a kernel thread (no VmHWM)


class StatusFiles:
    """peak_rss_bytes for the processes of one sandbox, each /proc/<pid>/status kept open and re-read with
    pread (a warm invoke reads the peak every time). A descriptor stays bound to its process: a pid the
    kernel reuses is never read through an old one."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def peak(self, pid: int) -> int:
        fd = self._fds.get(pid)
        try:
            if fd is None:
                fd = self._fds[pid] = os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
            return _vm_hwm(os.pread(fd, 4096, 0))
        except (OSError, ValueError):
            self._forget(pid)
            return 0  # gone, or a kernel thread (no VmHWM)

    def keep_only(self, pids: list[int]) -> None:
        for pid in [pid for pid in self._fds if pid not in pids]:
            self._forget(pid)

    def close(self) -> None:
        for pid in list(self._fds):
            self._forget(pid)

    def _forget(self, pid: int) -> None:
        fd = self._fds.pop(pid, None)
        if fd is not None:
            os.close(fd)


def sandbox_peak_bytes(
    charged: int, pids: list[int], limit: int, peak: Callable[[int], int] = peak_rss_bytes
) -> int:
    """A cgroup sandbox's memory peak: the larger of what its memory cgroup charged and the largest VmHWM
    among its processes (what was surely resident at once; a sum would count shared pages, libc say, once
    per process).

    VmHWM counts the pages of the binary and its libraries that were already in the host's page cache,
    charged to whoever read them first; on Lambda each sandbox reads its code afresh, so they are the
    function's too. Capped at the limit: pages the memory cgroup does not hold can take VmHWM past it."""
    return max(charged, min(max((peak(pid) for pid in pids), default=0), limit))


def reset_peaks(pids: list[int]) -> None:
    """Reset each process's VmHWM to its current RSS (`5` to clear_refs); a gone process is skipped."""
    for pid in pids:
        with contextlib.suppress(OSError):
            (_PROC / str(pid) / "clear_refs").write_text("5")


def tree_peak_rss_bytes(root: int) -> int:
    """Sum of the peaks of `root` and its descendants: exact for one process, an upper bound for several."""
    return sum(peak_rss_bytes(pid) for pid in tree_pids(root))
