"""Reading memory use from /proc, for hosts without a memory cgroup."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")


def pids_in_group(pgid: int) -> list[int]:
    """Every live process whose process group is `pgid`."""
    pids = []
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # the process exited while we looked
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            pids.append(int(entry.name))
    return pids


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of resident memory (VmHWM) for one process; 0 if it is gone."""
    try:
        with Path(_PROC, str(pid), "status").open() as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def group_peak_rss_bytes(pgid: int) -> int:
    """Sum of the peaks of the group's live processes: exact for one process, an upper bound for several."""
    return sum(peak_rss_bytes(pid) for pid in pids_in_group(pgid))
