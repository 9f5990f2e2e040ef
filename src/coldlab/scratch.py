"""Directories coldlab owns in the temporary directory, named so that a later coldlab can remove what a killed
one left behind (`kill -9` runs no clean-up).

A name is `coldlab-<kind>-<pid>-<start time>-<random>`: with the owner's start time (clock ticks since boot,
from /proc/<pid>/stat) a live owner is told from a reused pid, as the cgroup run names do
(sandbox/cgroupfs.py). Stale ones are removed by the next coldlab that makes one, and by `coldlab doctor`,
which lists what it removed, as it does for cgroups.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from coldlab.sandbox.cgroupfs import process_start_time

CODE = "code"  # extracted function packages


def parent() -> Path:
    """Where scratch directories go: $TMPDIR, else the system's temporary directory."""
    return Path(tempfile.gettempdir())


def make_dir(kind: str, where: Path | None = None) -> Path:
    """A new private (0700) directory for this process, named after its owner."""
    pid = os.getpid()
    return Path(tempfile.mkdtemp(prefix=f"coldlab-{kind}-{pid}-{process_start_time(pid) or 0}-", dir=where))


def owner_alive(name: str, kind: str) -> bool:
    """Whether the coldlab that made the directory `name` still runs; True for names not ours to judge."""
    prefix = f"coldlab-{kind}-"
    fields = name.removeprefix(prefix).split("-")
    if not name.startswith(prefix) or len(fields) < 3 or not (fields[0].isdigit() and fields[1].isdigit()):
        return True
    return process_start_time(int(fields[0])) == int(fields[1])


def stale_dirs(kind: str, where: Path | None = None) -> list[Path]:
    """Directories of `kind` whose owner is dead. Only real directories owned by this user count: anyone
    can create names in /tmp, and a link or another user's directory is never ours to remove."""
    found = []
    with contextlib.suppress(OSError), os.scandir(where or parent()) as entries:
        for entry in entries:
            if not entry.name.startswith(f"coldlab-{kind}-") or owner_alive(entry.name, kind):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
                    found.append(Path(entry.path))
    return sorted(found)


def remove_stale(kind: str, where: Path | None = None) -> list[Path]:
    """Remove what dead owners left; returns the directories removed (another coldlab may race us: fine)."""
    removed = []
    for directory in stale_dirs(kind, where):
        shutil.rmtree(directory, ignore_errors=True)  # fd-based: a link inside is removed, not followed
        if not directory.exists():
            removed.append(directory)
    return removed
