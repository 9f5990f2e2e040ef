"""The pre-forked spawner ("zygote"): a small process that forks bootstraps on coldlab's behalf.

Forking coldlab itself is slow: the child copies the page tables of an interpreter that has aiohttp, rich and
the rest loaded, takes copy-on-write faults while it runs the sandbox set-up in Python, and exec then tears
all of it down (about 6 ms in all, measured). This process imports only what the set-up needs, so its forks
are cheap. Each child runs `isolation.run_setup` (cgroups, mounts, user), says it is ready, and waits for
coldlab's word to exec: so a sandbox can be prepared before an invoke arrives, off the invoke's path.

Wire format, on a SOCK_SEQPACKET pair (one pickled tuple per message; both ends are coldlab's own code):
  coldlab -> zygote  ("spawn", request_id, SpawnRequest) + descriptors: output, go (read end), status (write)
  zygote -> coldlab  ("spawned", request_id, pid)    right after the fork
                     ("exited", pid, returncode)     returncode as asyncio gives it: -N for signal N
The child itself talks to coldlab through the two pipes: on `status` it writes READY after the set-up, or why
the set-up or the exec failed; exec closes `status` (close-on-exec), so end-of-file after READY means it runs.
On `go` it waits for one byte (exec) or end-of-file (coldlab gave up on it: exit quietly).
The zygote exits when its socket reaches end of file, which the kernel makes happen when coldlab dies, however
it dies; each child dies with the zygote (PR_SET_PDEATHSIG, set in run_setup). A parent-death signal on the
zygote itself would follow the thread that started it, not coldlab, so the socket is the signal here.
"""

from __future__ import annotations

import array
import contextlib
import os
import pickle
import select
import signal
import socket
import sys
from dataclasses import dataclass

from coldlab.sandbox.isolation import ChildSetup, run_setup

MAX_MESSAGE = 1 << 20
READY = b"R"
STAGE_SETUP = "setup"  # the sandbox set-up failed (cgroup join, mounts, user switch)
STAGE_EXEC = "exec"  # exec itself failed (missing file, not executable); `why` is "errno:strerror"


@dataclass(frozen=True)
class SpawnRequest:
    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    setup: ChildSetup


def send(sock: socket.socket, message: tuple[object, ...], fds: tuple[int, ...] = ()) -> None:
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    sock.sendmsg([pickle.dumps(message)], ancillary)


def receive(sock: socket.socket, flags: int = 0) -> tuple[tuple[object, ...] | None, list[int]]:
    """One message and the descriptors that came with it; (None, []) at end of stream."""
    fds = array.array("i")
    data, ancillary, _, _ = sock.recvmsg(MAX_MESSAGE, socket.CMSG_SPACE(4 * fds.itemsize), flags)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    for fd in fds:
        os.set_inheritable(fd, False)
    return (pickle.loads(data) if data else None), list(fds)  # noqa: S301 (our own process, our own data)


def child_main(request: SpawnRequest, output_fd: int, go_fd: int, status_fd: int) -> int:
    """In the forked child: what subprocess does before exec, the sandbox set-up, READY, wait for go, exec.
    Returns (only when it did not exec) the exit status: 0 when discarded, 127 on a failure."""
    os.setsid()
    for signum in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):  # Python ignores or handles these
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.chdir(request.cwd)
    try:
        run_setup(request.setup)
    except BaseException as exc:  # noqa: BLE001 (whatever it was, coldlab must hear why)
        os.write(status_fd, f"{STAGE_SETUP}\0{exc}".encode()[:1000])
        return 127
    os.write(status_fd, READY)
    if os.read(go_fd, 1) != b"\x01":
        return 0  # coldlab discarded this prepared sandbox
    try:
        argv = request.argv
        if "/" in argv[0]:
            os.execve(argv[0], argv, request.env)  # noqa: S606 (the bootstrap, as Lambda runs it)
        os.execvpe(argv[0], argv, request.env)  # noqa: S606
    except OSError as exc:
        os.write(status_fd, f"{STAGE_EXEC}\0{exc.errno}:{exc.strerror}".encode())
    return 127


class Zygote:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.live: set[int] = set()  # pids coldlab knows of; their exits are reported

    def spawn(self, request: tuple[object, ...], fds: list[int]) -> None:
        _, request_id, spawn = request
        assert isinstance(spawn, SpawnRequest)
        pid = os.fork()
        if pid == 0:
            status = 127
            try:
                self.sock.close()
                status = child_main(spawn, *fds[:3])
            finally:
                os._exit(status)
        for fd in fds:
            os.close(fd)
        self.live.add(pid)
        send(self.sock, ("spawned", request_id, pid))

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.live:
                self.live.discard(pid)
                send(self.sock, ("exited", pid, os.waitstatus_to_exitcode(status)))

    def serve(self) -> None:
        wake_read, wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler (not SIG_IGN) so children stay reapable
        self.reap()
        while True:
            readable, _, _ = select.select([self.sock.fileno(), wake_read], [], [])
            if wake_read in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
                self.reap()
            if self.sock.fileno() in readable:
                request, fds = receive(self.sock)
                if request is None:  # coldlab closed its end (or died): we are done
                    return
                self.spawn(request, fds)


def main() -> None:
    """Entry point: `python -I -S -c ... <src dir> <socket fd>` (see spawner.py)."""
    sock_fd = int(sys.argv[2])
    sock = socket.socket(fileno=sock_fd)
    os.set_inheritable(sock_fd, False)
    Zygote(sock).serve()
