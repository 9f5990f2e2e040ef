"""How coldlab forks a bootstrap: through the zygote (zygote.py), or, when that cannot start, by itself.

A child is forked, runs the sandbox set-up, says it is ready and waits; `PreparedChild.start` lets it exec.
Through the zygote, a bootstrap is the zygote's child, not coldlab's, so its exit status arrives as a message;
`ZygoteChild` turns that back into what asyncio.subprocess.Process offers (pid, returncode, wait()).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import coldlab
from coldlab.errors import SandboxError
from coldlab.sandbox import zygote
from coldlab.sandbox.host import Child
from coldlab.sandbox.isolation import ChildSetup

log = logging.getLogger(__name__)
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from coldlab.sandbox.zygote import main; main()"


class PreparedChild:
    """A forked child whose sandbox is set up, waiting for `start` (exec) or `discard`."""

    def __init__(self, program: str, child: Child, go_fd: int, status_fd: int) -> None:
        self.program = program
        self.child = child
        self._go_fd = go_fd
        self._status_fd = status_fd

    async def wait_ready(self) -> None:
        status = await _read_some(self._status_fd)
        if status != zygote.READY:
            raise _failure(self.program, status or f"{zygote.STAGE_SETUP}\0the child exited".encode())

    async def start(self) -> Child:
        """Let the child exec; returns once it has (end of file on the status pipe), else SandboxError."""
        try:
            try:
                os.write(self._go_fd, b"\x01")
            except BrokenPipeError:
                why = f"the sandbox prepared for {self.program} died before it started"
                raise SandboxError(why) from None
            status = b""
            while chunk := await _read_some(self._status_fd):
                status += chunk
        finally:
            self.discard()
        if status:
            raise _failure(self.program, status)
        return self.child

    def discard(self) -> None:
        """Close our pipe ends: a child still waiting for go exits quietly (the caller kills what is left)."""
        for fd in (self._go_fd, self._status_fd):
            if fd >= 0:
                os.close(fd)
        self._go_fd = self._status_fd = -1


async def _readable(fd: int) -> None:
    """Wait until `fd` is readable."""
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not readable.done():
            readable.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await readable
    finally:
        loop.remove_reader(fd)


async def _read_some(fd: int) -> bytes:
    """Wait until `fd` is readable, then read what is there (b"" at end of file)."""
    await _readable(fd)
    return os.read(fd, 4096)


def _failure(program: str, status: bytes) -> SandboxError:
    stage, _, why = status.decode(errors="replace").partition("\0")
    if stage == zygote.STAGE_EXEC:
        _, _, strerror = why.partition(":")
        return SandboxError(f"cannot start {program}: {strerror or why}")
    return SandboxError(f"cannot prepare the sandbox for {program}: {why}")


class _Spawner:
    """What both ways of forking share: the pipes, the request, waiting for the set-up."""

    owner = 0  # the pid of the coldlab process this spawner belongs to
    alive = True

    async def prepare(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, output_fd: int, setup: ChildSetup
    ) -> PreparedChild:
        """Fork a child that runs `setup`, then waits to exec `argv`; SandboxError says why it could not."""
        go_read, go_write = os.pipe2(os.O_CLOEXEC)
        status_read, status_write = os.pipe2(os.O_CLOEXEC)
        try:
            request = zygote.SpawnRequest(tuple(argv), dict(env), str(cwd), setup)
            child = await self._fork(request, (output_fd, go_read, status_write))
        except BaseException:
            os.close(go_write)
            os.close(status_read)
            raise
        finally:
            os.close(go_read)
            os.close(status_write)
        prepared = PreparedChild(argv[0], child, go_write, status_read)
        try:
            await prepared.wait_ready()
        except BaseException:
            prepared.discard()
            raise
        return prepared

    async def _fork(self, request: zygote.SpawnRequest, fds: tuple[int, int, int]) -> Child:
        raise NotImplementedError


class ForkedChild:
    """A child coldlab forked itself; its exit is seen through a pidfd."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)

    @property
    def returncode(self) -> int | None:
        if self._returncode is None:
            self._reap()
        return self._returncode

    def _reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return  # still running
            self._returncode = os.waitstatus_to_exitcode(status)
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    async def wait(self) -> int:
        while (code := self.returncode) is None:
            await _readable(self._pidfd)
        return code


class ForkSpawner(_Spawner):
    """coldlab forks the child itself: slower (the whole interpreter is copied), but needs no zygote."""

    def __init__(self, why: str) -> None:
        self.owner = os.getpid()
        self.why = why

    async def _fork(self, request: zygote.SpawnRequest, fds: tuple[int, int, int]) -> Child:
        pid = os.fork()
        if pid == 0:
            status = 127
            try:
                _close_all_but(fds)  # coldlab's own ends of this child's pipes too, or discard never ends it
                status = zygote.child_main(request, *fds)
            finally:
                os._exit(status)
        return ForkedChild(pid)


def _close_all_but(keep: tuple[int, ...]) -> None:
    low = 3
    for fd in sorted(fd for fd in keep if fd >= low):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


class ZygoteChild:
    """One bootstrap started by the zygote (the `Child` of host.py)."""

    def __init__(self, spawner: ZygoteSpawner, pid: int) -> None:
        self._spawner = spawner
        self._pid = pid
        self._returncode: int | None = None
        self._waiters: list[asyncio.Future[int]] = []

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def returncode(self) -> int | None:
        if self._returncode is None:
            self._spawner.poll()  # an exit may be waiting on the socket while no event loop reads it
        return self._returncode

    async def wait(self) -> int:
        if self._returncode is not None:
            return self._returncode
        loop = asyncio.get_running_loop()
        self._spawner.attach(loop)
        waiter: asyncio.Future[int] = loop.create_future()
        self._waiters.append(waiter)
        return await waiter

    def exited(self, returncode: int) -> None:
        self._returncode = returncode
        for waiter in self._waiters:
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(returncode)
        self._waiters.clear()


class ZygoteSpawner(_Spawner):
    """A running zygote and the socket to it."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        source = Path(coldlab.__file__).resolve().parent.parent
        debug = os.environ.get("COLDLAB_DEBUG") == "1"
        try:
            argv = [sys.executable, "-I", "-S", "-c", _BOOT, str(source), str(theirs.fileno())]
            self._process = subprocess.Popen(
                argv,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,  # its failures reach the caller as SandboxError
            )
        except OSError as exc:
            ours.close()
            why = exc.strerror or str(exc)
            raise SandboxError(f"cannot start coldlab's spawner ({sys.executable}): {why}") from exc
        finally:
            theirs.close()
        self._sock = ours
        self.owner = os.getpid()
        self.alive = True
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ZygoteChild]] = {}
        self._children: dict[int, ZygoteChild] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pid(self) -> int:
        return self._process.pid

    async def _fork(self, request: zygote.SpawnRequest, fds: tuple[int, int, int]) -> Child:
        loop = asyncio.get_running_loop()
        self.attach(loop)
        request_id = next(self._ids)
        reply: asyncio.Future[ZygoteChild] = loop.create_future()
        self._pending[request_id] = reply
        try:
            zygote.send(self._sock, ("spawn", request_id, request), fds)
        except OSError as exc:
            self._pending.pop(request_id, None)
            why = exc.strerror or str(exc)
            if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                self._lost()
                raise SandboxError(f"coldlab's spawner is gone ({why})", "run the command again") from exc
            raise SandboxError(f"cannot hand {request.argv[0]} to coldlab's spawner: {why}") from exc
        return await reply

    # --- messages from the zygote ----------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the zygote's messages on `loop` (tests and tools may run several loops one after another)."""
        if self._loop is loop or not self.alive:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        loop.add_reader(self._sock.fileno(), self.poll)
        self._loop = loop

    def poll(self) -> None:
        """Handle every message waiting on the socket, without blocking."""
        while self.alive:
            try:
                message, fds = zygote.receive(self._sock, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            except OSError:
                message, fds = None, []
            for fd in fds:
                os.close(fd)
            if message is None:
                self._lost()
                return
            self._dispatch(message)

    def _dispatch(self, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == "spawned":
            _, request_id, pid = message
            reply = self._pending.pop(request_id, None)  # type: ignore[call-overload]
            if isinstance(pid, int):
                child = self._children[pid] = ZygoteChild(self, pid)
                if reply is not None and not reply.done():
                    reply.set_result(child)
        elif kind == "exited":
            _, pid, returncode = message
            found = self._children.pop(pid, None)  # type: ignore[call-overload]
            if found is not None and isinstance(returncode, int):
                found.exited(returncode)

    def _lost(self) -> None:
        """The zygote died: its children died with it (PR_SET_PDEATHSIG), and pending spawns fail."""
        if not self.alive:
            return
        self.alive = False
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(SandboxError("coldlab's spawner exited", "run the command again"))
        self._pending.clear()
        for child in self._children.values():
            child.exited(-signal.SIGKILL)
        self._children.clear()
        self.close()

    def close(self) -> None:
        """Closing the socket ends the zygote (it exits at end of stream)."""
        self.alive = False
        self._sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=2.0)


_current: _Spawner | None = None


def spawner() -> _Spawner:
    """This process's zygote, started on first use (and again if it died, or after a fork). When no zygote
    can start (say the interpreter cannot be run again as this user), coldlab forks by itself and says so."""
    global _current  # noqa: PLW0603 (one zygote per coldlab process, by design)
    if _current is None or not _current.alive or _current.owner != os.getpid():
        try:
            _current = ZygoteSpawner()
        except SandboxError as exc:
            log.warning("coldlab: %s; forking coldlab itself instead (cold starts cost a few ms more)", exc)
            _current = ForkSpawner(str(exc))
    return _current


def mechanism() -> str:
    """What forks bootstraps in this process (doctor shows it)."""
    current, ahead = spawner(), "the next sandbox is prepared before its invoke"
    if isinstance(current, ZygoteSpawner):
        return f"zygote (a pre-forked spawner, pid {current.pid}); {ahead}"
    assert isinstance(current, ForkSpawner)
    return f"fork of coldlab itself ({current.why}); {ahead}"


@atexit.register
def _close_at_exit() -> None:
    if isinstance(_current, ZygoteSpawner) and _current.alive and _current.owner == os.getpid():
        _current.close()
