"""Lambda-like isolation when coldlab runs as root, applied in the child between fork and exec (zygote.py).

The child (1) joins its cgroups, so nothing it ever runs escapes them; (2) enters a private mount namespace
with the code directory read-only at /var/task and its own size-limited tmpfs at /tmp; (3) drops to an
unprivileged user; (4) gets Lambda's rlimits and dies with its parent, the zygote, which dies with coldlab.
Only syscalls and a little Python run there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import resource
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coldlab.sandbox.host import Limits

FUNCTION_USER = "coldlab-fn"
NOBODY_UID = 65534
TASK_ROOT = Path("/var/task")
OPT = Path("/opt")  # where Lambda extracts layers (extensions in /opt/extensions)
_MAX_BOUND_ENTRIES = 256  # above this, the code directory is bound whole (it must then be world-readable)
_PATH_VARS = ("PATH", "LD_LIBRARY_PATH")

# <sys/mount.h>, <sched.h>, <sys/prctl.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
CLONE_NEWNS = 0x00020000
PR_SET_PDEATHSIG = 1
O_RDONLY = os.O_RDONLY

libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {source or ''} on {target}",
    )


@dataclass(frozen=True)
class FunctionUser:
    """The unprivileged user a bootstrap runs as, and how coldlab got it (for doctor)."""

    name: str
    uid: int
    gid: int
    how: str  # "existing" | "created" | "nobody" | "fixed-uid"


def ensure_function_user(name: str = FUNCTION_USER) -> FunctionUser:
    """Use the `coldlab-fn` system user, creating it with useradd if missing; fall back to nobody."""
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(name)
        return FunctionUser(name, entry.pw_uid, entry.pw_gid, "existing")
    import subprocess  # (here only: the zygote imports this module and must stay small)

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--user-group", name],
            capture_output=True, timeout=15, check=False,
        )  # fmt: skip
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(name)  # created now, or by another coldlab at the same moment
        return FunctionUser(name, entry.pw_uid, entry.pw_gid, "created")
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam("nobody")
        return FunctionUser("nobody", entry.pw_uid, entry.pw_gid, "nobody")
    return FunctionUser(str(NOBODY_UID), NOBODY_UID, NOBODY_UID, "fixed-uid")


@dataclass(frozen=True)
class CodeEntry:
    name: str
    kind: str  # "dir" | "file" | "symlink"
    target: str = ""


@dataclass(frozen=True)
class Relocation:
    """Where the code directory appears inside the sandbox, and how argv/env/cwd are rewritten for it."""

    source: Path
    entries: tuple[CodeEntry, ...] | None  # None: bind the directory whole
    argv: tuple[str, ...]
    env: Mapping[str, str]


def _entries(code_dir: Path) -> tuple[CodeEntry, ...] | None:
    found: list[CodeEntry] = []
    for entry in os.scandir(code_dir):
        if entry.is_symlink():
            found.append(CodeEntry(entry.name, "symlink", str(Path(entry.path).readlink())))
        elif entry.is_dir():
            found.append(CodeEntry(entry.name, "dir"))
        else:
            found.append(CodeEntry(entry.name, "file"))
        if len(found) > _MAX_BOUND_ENTRIES:
            return None
    return tuple(found)


def mover(code_dir: Path, opt_dir: Path | None = None) -> Callable[[str], str]:
    """A function that moves host paths under the code directory to /var/task (and the layers to /opt)."""
    moves = [(prefix, str(TASK_ROOT)) for prefix in {str(code_dir), os.path.realpath(code_dir)}]
    if opt_dir is not None:
        moves += [(prefix, str(OPT)) for prefix in {str(opt_dir), os.path.realpath(opt_dir)}]

    def move(value: str) -> str:
        for prefix, target in moves:
            if value == prefix:
                return target
            if value.startswith(prefix + "/"):
                return target + value[len(prefix) :]
        return value

    return move


def relocate(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, opt_dir: Path | None = None
) -> Relocation:
    """Move the code directory (LAMBDA_TASK_ROOT, else cwd) to /var/task in argv and env, as on Lambda."""
    code_dir = Path(env.get("LAMBDA_TASK_ROOT") or cwd)
    move = mover(code_dir, opt_dir)

    new_env = {
        key: ":".join(move(part) for part in value.split(":")) if key in _PATH_VARS else move(value)
        for key, value in env.items()
    }
    new_env["LAMBDA_TASK_ROOT"] = str(TASK_ROOT)
    source = Path(os.path.realpath(code_dir))
    return Relocation(source, _entries(source), tuple(move(a) for a in argv), new_env)


def _blocking_dir(path: Path, user: FunctionUser) -> Path | None:
    """The first directory on `path`'s way that `user` cannot search (None: it can reach `path`)."""
    current = Path("/")
    for part in path.parts[1:-1]:
        current = current / part
        st = current.stat()
        bit = 0o100 if st.st_uid == user.uid else 0o010 if st.st_gid == user.gid else 0o001
        if not st.st_mode & bit:
            return current
    return None


def interpreter_reveal(bootstrap: Path, user: FunctionUser) -> tuple[str, str] | None:
    """For a script whose interpreter sits under a directory the function user cannot enter (a Python in
    /root/.pyenv, say): (that directory, the interpreter's install prefix). Inside the sandbox the directory
    is replaced by an empty tmpfs holding only the prefix, read-only; the rest of it stays hidden."""
    try:
        with bootstrap.open("rb") as file:
            head = file.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].split()
    if not words:
        return None
    interpreter = Path(os.path.realpath(words[0].decode(errors="replace")))
    blocked = _blocking_dir(interpreter, user) if interpreter.is_file() else None
    if blocked is None:
        return None
    prefix = interpreter.parent.parent if interpreter.parent.name == "bin" else interpreter.parent
    if not prefix.is_relative_to(blocked) or prefix == blocked:
        return None
    return str(blocked), str(prefix)


@dataclass(frozen=True)
class ChildSetup:
    """Everything the child does between fork and exec, in order."""

    cgroup_procs: tuple[Path, ...] = ()  # cgroup.procs files to join (first, as root)
    # Joined after the mount set-up, just before dropping root: coldlab's own work in the child is not
    # charged to (or slowed by) the function's CPU quota. Nothing can fork in between, so nothing escapes.
    late_cgroup_procs: tuple[Path, ...] = ()
    relocation: Relocation | None = None
    tmp_size_mb: int | None = None  # private tmpfs on /tmp of this size
    reveal: tuple[str, str] | None = None  # (hidden dir, prefix inside it to show), see interpreter_reveal
    user: FunctionUser | None = None
    limits: Limits | None = None
    rlimit_nproc: bool = False  # only when no pids cgroup limits threads
    opt_source: str | None = None  # the layers' directory, bound read-only at /opt
    # Another process of the same sandbox (an extension): enter the mount namespace of this pid (the prepared
    # runtime's) instead of making one, so both see the same /var/task, /opt and /tmp.
    join_mounts_of: int | None = None


def _bind_code(relocation: Relocation) -> None:
    target = str(TASK_ROOT)
    if relocation.entries is None:
        _mount(str(relocation.source), target, None, MS_BIND | MS_REC)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        return
    # A root-owned 0755 tmpfs holds one read-only bind per entry: the code directory's own mode (often 0700
    # for a temp dir) does not matter, as on Lambda where /var/task belongs to root.
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for entry in relocation.entries:
        path = f"{target}/{entry.name}"
        source = f"{relocation.source}/{entry.name}"
        if entry.kind == "symlink":
            Path(path).symlink_to(entry.target)
            continue
        if entry.kind == "dir":
            Path(path).mkdir()
        else:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(source, path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _reveal(hidden: str, prefix: str) -> None:
    keep = os.open(prefix, os.O_PATH | os.O_DIRECTORY)  # still names the prefix once `hidden` is covered
    try:
        _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        Path(prefix).mkdir(mode=0o755, parents=True)
        _mount(f"/proc/self/fd/{keep}", prefix, None, MS_BIND | MS_REC)
        _mount(None, prefix, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    finally:
        os.close(keep)


def _join(cgroup_procs: tuple[Path, ...]) -> None:
    pid = str(os.getpid()).encode()
    for procs in cgroup_procs:
        fd = os.open(procs, os.O_WRONLY)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def _bind_read_only(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _enter_mounts_of(pid: int) -> None:
    fd = os.open(f"/proc/{pid}/ns/mnt", O_RDONLY)
    try:
        _check(libc.setns(fd, CLONE_NEWNS), f"setns(mount namespace of {pid})")
    finally:
        os.close(fd)
    os.chdir("/")


def run_setup(setup: ChildSetup) -> None:
    """Runs in the forked child, just before exec (see zygote.py)."""
    _join(setup.cgroup_procs)
    if setup.join_mounts_of is not None:
        _enter_mounts_of(setup.join_mounts_of)
    elif setup.relocation is not None or setup.tmp_size_mb is not None:
        _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks back to the host
        if setup.relocation is not None:
            _bind_code(setup.relocation)  # before /tmp: the code directory may live under /tmp
            os.chdir(TASK_ROOT)
        if setup.reveal is not None:
            _reveal(*setup.reveal)
        if setup.opt_source is not None:
            _bind_read_only(setup.opt_source, str(OPT))
        if setup.tmp_size_mb is not None:
            options = f"size={setup.tmp_size_mb}m,mode=1777"
            _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, options)  # noqa: S108 (its own /tmp)
    if setup.limits is not None:
        files = setup.limits.max_open_files
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
        if setup.rlimit_nproc:
            nproc = setup.limits.max_processes
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    _join(setup.late_cgroup_procs)
    if setup.user is not None:
        os.setgroups([])
        os.setgid(setup.user.gid)
        os.setuid(setup.user.uid)
    # After the uid change (which clears it): the function dies with its parent (the zygote, or coldlab).
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def function_user(isolate: bool | None) -> FunctionUser | None:
    """The user bootstraps run as when isolating (by default: when coldlab is root), else None.
    /var/task is made on the host as a mount point (empty there; the code appears only inside)."""
    if not (isolate if isolate is not None else os.geteuid() == 0):
        return None
    TASK_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    OPT.mkdir(mode=0o755, exist_ok=True)  # the layers' mount point
    return ensure_function_user()
