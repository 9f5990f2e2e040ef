"""Opening the state database of `coldlab serve`, and the one thread that writes to it.

- One writer: the server holds an exclusive lock on `serve.lock` in the state directory for its lifetime
  (two servers on one directory would deliver the same events), and every write goes through `Writer`.
- WAL mode: `coldlab records` reads while the server writes. synchronous=FULL: a commit is on disk before
  the server answers 202 for an Event invoke (kill -9 or a power cut loses nothing that was acknowledged).
- Schema versioning: `PRAGMA user_version`; migrations run forward in one transaction; a database written
  by a newer coldlab is refused, never rewritten.
- Integrity: `PRAGMA integrity_check` before the first write. A corrupt or locked database is refused with
  one line naming the file and what to do: coldlab never overwrites or "repairs" one (no silent data loss).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from coldlab.errors import UsageError
from coldlab.gotool import cache_root
from coldlab.store import queue as event_queue
from coldlab.store import records

DB_NAME = "state.db"
LOCK_NAME = "serve.lock"
SCHEMA_VERSION = 2
LOCK_WAIT_S = 2.0  # how long to wait for another process's SQLite lock before calling the file locked
MAX_BATCH = 2000  # writes per transaction
# version -> the statements that bring the previous version up to it
MIGRATIONS: dict[int, tuple[str, ...]] = {1: (*event_queue.SCHEMA, *records.SCHEMA), 2: records.SCHEMA_2}

T = TypeVar("T")
log = logging.getLogger("coldlab.store")


class StateError(UsageError):
    """The state directory or database cannot be used as it is (exit code 2, one line)."""


def default_state_dir() -> Path:
    """~/.cache/coldlab/serve (or under $XDG_CACHE_HOME)."""
    return cache_root() / "coldlab" / "serve"


def _corrupt(path: Path, detail: str) -> StateError:
    return StateError(
        f"the state database {path} is corrupt or not a coldlab database ({detail})",
        "coldlab will not overwrite it: move it aside (keep it to recover its events) or pass another "
        "--state-dir",
    )


def _locked(path: Path) -> StateError:
    return StateError(
        f"the state database {path} is locked by another process",
        "stop the program holding it (another coldlab, an sqlite3 shell) or pass another --state-dir",
    )


def _classify(path: Path, exc: sqlite3.Error) -> StateError:
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return _locked(path)
    return _corrupt(path, text)


def _lock_directory(state_dir: Path) -> int:
    """An exclusive lock on `serve.lock` for this process's lifetime (released by the kernel at exit, so
    a server killed with -9 never leaves the directory locked)."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(
            f"cannot use the state directory {state_dir}: {exc.strerror}", "pass another --state-dir"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StateError(
            f"the state directory {state_dir} is in use by another coldlab serve (pid {holder})",
            "stop that server, or pass another --state-dir",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _check(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version of a sound database; StateError for anything else."""
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    if rows != [("ok",)]:
        raise _corrupt(path, "integrity check: " + "; ".join(str(row[0]) for row in rows[:3]))
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database {path} has schema version {version}; this coldlab knows up to "
            f"{SCHEMA_VERSION}",
            "use the newer coldlab that wrote it, or pass another --state-dir",
        )
    return version


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class StateDb:
    """The open state database of one server: the directory lock, the connection and its writer."""

    def __init__(self, state_dir: Path, conn: sqlite3.Connection, lock_fd: int) -> None:
        self.state_dir = state_dir
        self.path = state_dir / DB_NAME
        self.writer = Writer(conn)
        self._lock_fd = lock_fd

    @classmethod
    def open(cls, state_dir: Path) -> StateDb:
        """Lock the directory, check the database (made when absent) and bring its schema up to date."""
        state_dir = state_dir.expanduser().absolute()
        lock_fd = _lock_directory(state_dir)
        path = state_dir / DB_NAME
        try:
            conn = sqlite3.connect(path, timeout=LOCK_WAIT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            os.close(lock_fd)
            raise _classify(path, exc) from exc
        try:
            version = _check(conn, path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise _locked(path)  # another connection keeps it in rollback mode
            conn.execute("PRAGMA synchronous = FULL")
            _migrate(conn, version)
            conn.execute("BEGIN IMMEDIATE")  # can we write? (another process may hold the write lock)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.close()
            os.close(lock_fd)
            raise _classify(path, exc) from exc
        except BaseException:
            conn.close()
            os.close(lock_fd)
            raise
        return cls(state_dir, conn, lock_fd)

    def close(self) -> None:
        """Finish every write that was handed in, then release the database and the directory."""
        self.writer.close()
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


def open_reader(state_dir: Path) -> sqlite3.Connection:
    """A read-only connection for `coldlab records` (the server may be writing meanwhile: WAL)."""
    state_dir = state_dir.expanduser().absolute()
    path = state_dir / DB_NAME
    if not path.is_file():
        raise StateError(
            f"no state database in {state_dir}",
            f"run `coldlab serve --state-dir {state_dir}` first, or pass the --state-dir it used",
        )
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=LOCK_WAIT_S)
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise _classify(path, exc) from exc
    if version == 0 or version > SCHEMA_VERSION:
        conn.close()
        raise _corrupt(path, f"schema version {version}; this coldlab reads 1 to {SCHEMA_VERSION}")
    return conn


Done = Callable[[Any, BaseException | None], None]
_STOP = object()


class Writer:
    """Runs every write in one thread, in batches: each call gets a savepoint inside a transaction shared
    with whatever else was waiting, so a burst of Event invokes or invocation records costs one commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Done | None] | object] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="coldlab-state-writer", daemon=True)
        self._closed = False
        self.commits = 0
        self._thread.start()

    def submit(self, work: Callable[[sqlite3.Connection], Any], done: Done | None = None) -> None:
        """Run `work(conn)` in the writer thread; `done(result, error)` there once it is committed."""
        if self._closed:
            raise RuntimeError("the state database is closed")
        self._queue.put((work, done))

    async def call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(conn)` in the writer thread and return its result once it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

        def done(result: Any, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(settle, result, error)

        self.submit(work, done)
        return await future

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = _STOP in batch
            items = [item for item in batch if item is not _STOP]
            if items:
                try:
                    self._write(items)  # type: ignore[arg-type]
                except Exception:  # a bug in a callback: logged, and the thread keeps serving the rest
                    log.exception("coldlab serve: the state database writer failed")
            if stop:
                return

    def _write(self, items: list[tuple[Callable[[sqlite3.Connection], Any], Done | None]]) -> None:
        conn = self._conn
        outcomes: list[tuple[Done | None, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for work, done in items:
                conn.execute("SAVEPOINT one")
                try:
                    result = work(conn)
                except Exception as exc:  # noqa: BLE001 (this write fails alone and its caller gets the error; the batch goes on)
                    conn.execute("ROLLBACK TO one")
                    outcomes.append((done, None, exc))
                else:
                    outcomes.append((done, result, None))
                conn.execute("RELEASE one")
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:  # the commit itself failed (disk full, locked): nothing was written
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            outcomes = [(done, None, exc) for _work, done in items]
        for done, result, error in outcomes:
            if done is None:
                if error is not None:
                    log.error("coldlab serve: a state database write failed: %s", error)
                continue
            done(result, error)
