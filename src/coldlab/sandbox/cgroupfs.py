"""Small, careful helpers for cgroup directories shared by the v1 and v2 hosts.

Layout: `<hierarchy>/coldlab/<run-id>/<env-id>[/fn]`. A run directory belongs to one coldlab process; its
name `<pid>-<start time>` lets a later coldlab tell whether the owner still lives, and remove what a killed
run left behind.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from coldlab.errors import SandboxError

PARENT = "coldlab"
_PROC = Path("/proc")
_env_counter = itertools.count(1)
_run_counter = itertools.count(1)


def write(path: Path, value: str) -> None:
    """Write one value to a cgroup control file; raise SandboxError naming the file on failure."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        hint = "run coldlab as root, or see `coldlab doctor`"
        raise SandboxError(f"cannot open {path}: {exc.strerror}", hint) from exc
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise SandboxError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise SandboxError(f"cannot read {path}: {exc.strerror}") from exc


def read_int(path: Path, default: int = 0) -> int:
    """An integer control file (e.g. memory.max_usage_in_bytes); `default` when missing or unreadable."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def keyed(path: Path) -> dict[str, int]:
    """A flat keyed file (`key value` per line: cpu.stat, memory.oom_control, cgroup.events)."""
    try:
        return parse_keyed(path.read_text())
    except OSError:
        return {}


def parse_keyed(text: str) -> dict[str, int]:
    """The integer values of a flat keyed file's text (lines that are not `key integer` are skipped)."""
    result: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            result[key] = int(value)
    return result


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid, identifies a process uniquely."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def run_name() -> str:
    """A new run directory name for a host of this process: `<pid>-<start time>-<n>`. One per host, so one
    host's clean-up never removes another's sandboxes (tests and tools may make several)."""
    pid = os.getpid()
    return f"{pid}-{process_start_time(pid) or 0}-{next(_run_counter)}"


def new_env_name() -> str:
    return f"env-{next(_env_counter)}-{secrets.token_hex(3)}"


def run_owner_alive(name: str) -> bool:
    """Whether the coldlab process that named a run directory `name` is still running."""
    parts = name.split("-")
    if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
        return True  # not ours to judge: leave unknown directories alone
    return process_start_time(int(parts[0])) == int(parts[1])


def pids_in(directory: Path) -> list[int]:
    """Every pid in `directory` and the cgroups below it."""
    pids: list[int] = []
    for dirpath, _dirs, _files in os.walk(directory):
        with contextlib.suppress(OSError):
            pids.extend(int(p) for p in Path(dirpath, "cgroup.procs").read_text().split())
    return pids


def kill_pids(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def remove_tree(directory: Path, timeout_s: float = 1.0) -> bool:
    """rmdir a cgroup and its children, deepest first, retrying while dying tasks leave. True when gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        busy = False
        for dirpath, _dirs, _files in os.walk(directory, topdown=False):
            try:
                Path(dirpath).rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return False
                busy = True
        if not busy or time.monotonic() >= deadline:
            return not directory.exists()
        kill_pids(pids_in(directory))
        time.sleep(0.002)


def make_dirs(path: Path) -> None:
    """mkdir -p for cgroups; tolerates another coldlab removing an empty `coldlab/` parent meanwhile."""
    for _attempt in range(5):
        try:
            path.mkdir(parents=True, exist_ok=True)
            return
        except FileNotFoundError:
            continue
    path.mkdir(parents=True, exist_ok=True)


def remove_stale_runs(parents: Iterable[Path], kill_run: Callable[[str], None] | None = None) -> list[str]:
    """Remove run directories whose owning coldlab is dead (killed before it could clean up).

    `kill_run(name)` stops the run's processes first (the v1 host freezes, kills, thaws); without it the pids
    listed are killed directly. Returns the names of the runs removed.
    """
    parents = list(parents)
    stale: set[str] = set()
    for parent in parents:
        with contextlib.suppress(OSError):
            stale.update(e.name for e in os.scandir(parent) if e.is_dir() and not run_owner_alive(e.name))
    for name in sorted(stale):
        if kill_run is not None:
            kill_run(name)
        for parent in parents:
            kill_pids(pids_in(parent / name))
        for parent in parents:
            remove_tree(parent / name)
    return sorted(stale)


def remove_if_empty(directory: Path) -> None:
    """rmdir `directory` if nothing is in it (another coldlab may still be using it: that is fine)."""
    with contextlib.suppress(OSError):
        directory.rmdir()


def writable_reason(path: Path) -> str | None:
    """None if coldlab can create cgroups at `path`, else why not (for the fallback notice and doctor)."""
    try:
        make_dirs(path)
    except PermissionError:
        return f"no permission to create cgroups in {path.parent} (run as root)"
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return f"the cgroup mount {path.parent} is read-only"
        return f"cannot create {path}: {exc.strerror}"
    if not os.access(path, os.W_OK):
        return f"no permission to write in {path}"
    return None


def open_reset_peak(peak_file: Path) -> int | None:
    """A descriptor on v2 `memory.peak` reset to the current use: reads through it give the peak since now.
    None before Linux 6.12, where the peak cannot be reset."""
    fd = os.open(peak_file, os.O_RDWR | os.O_CLOEXEC)
    try:
        os.write(fd, b"reset\n")
    except OSError:
        os.close(fd)
        return None
    return fd
