"""Whether the real cgroup v1 tests can run here."""

from __future__ import annotations

import os
from pathlib import Path

from coldlab.sandbox import cgroupfs

ROOT = Path("/sys/fs/cgroup")


def v1_unavailable() -> str | None:
    """Why the cgroup v1 host cannot be used here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root to create cgroups"
    for ctrl in ("cpu", "memory", "freezer"):
        if not (ROOT / ctrl / "cgroup.procs").exists():
            return f"cgroup v1 {ctrl} controller is not mounted at {ROOT / ctrl}"
    return cgroupfs.writable_reason(ROOT / "freezer" / cgroupfs.PARENT)
