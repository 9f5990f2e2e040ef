"""Directories coldlab owns in the temporary directory, named so that a later coldlab can remove what a killed
one left behind (`kill -9` runs no clean-up).

A name is `coldlab-<kind>-<pid>-<start time>-<random>`: with the owner's start time (clock ticks since boot,
from /proc/<pid>/stat) a live owner is told from a reused pid, as the cgroup run names do
(sandbox/cgroupfs.py). Stale ones are removed by the next coldlab that makes one of their kind, and (every
kind) by `coldlab doctor`, which lists what it removed, as it does for cgroups.
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
    """A new private (0700) directory for this process, named after its owner (`kind` has no dashes)."""
    if "-" in kind:
        raise ValueError(f"scratch kind {kind!r} has a dash, which would break the name's fields")
    pid = os.getpid()
    return Path(tempfile.mkdtemp(prefix=f"coldlab-{kind}-{pid}-{process_start_time(pid) or 0}-", dir=where))


def owner_alive(name: str) -> bool:
    """Whether the coldlab that made the directory `name` still runs; True for names not ours to judge."""
    fields = name.split("-")  # coldlab, kind, pid, start time, mkdtemp's suffix (which has no dashes)
    if len(fields) != 5 or fields[0] != "coldlab" or not (fields[2].isdigit() and fields[3].isdigit()):
        return True
    return process_start_time(int(fields[2])) == int(fields[3])


def stale_dirs(kind: str | None = None, where: Path | None = None) -> list[Path]:
    """Directories of `kind` (any kind when None) whose owner is dead. Only real directories owned by this
    user count: anyone can create names in /tmp, and a link or another user's directory is not ours."""
    found = []
    with contextlib.suppress(OSError), os.scandir(where or parent()) as entries:
        for entry in entries:
            if (kind is not None and entry.name.split("-")[1:2] != [kind]) or owner_alive(entry.name):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
                    found.append(Path(entry.path))
    return sorted(found)


def remove_stale(kind: str | None = None, where: Path | None = None) -> list[Path]:
    """Remove what dead owners left (of `kind`, or of every kind); returns the directories removed (another
    coldlab may race us to them: fine)."""
    removed = []
    for directory in stale_dirs(kind, where):
        shutil.rmtree(directory, ignore_errors=True)  # fd-based: a link inside is removed, not followed
        if not directory.exists():
            removed.append(directory)
    return removed
