"""The state database: made once, WAL, schema version, one writer per directory; corrupt, locked and newer
databases refused with one line and left as they were; the writer's batches."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from coldlab.store import db as store_db
from coldlab.store.db import DB_NAME, SCHEMA_VERSION, StateDb, StateError, open_reader


def test_a_new_directory_gets_a_wal_database_at_the_current_schema(tmp_path: Path) -> None:
    state = StateDb.open(tmp_path / "state")
    state.close()
    conn = sqlite3.connect(tmp_path / "state" / DB_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"events", "event_counts", "event_invoke_configs", "records"} <= tables
    conn.close()
    StateDb.open(tmp_path / "state").close()  # and it opens again as it is


def test_one_server_per_state_directory(tmp_path: Path) -> None:
    first = StateDb.open(tmp_path)
    try:
        with pytest.raises(StateError) as refused:
            StateDb.open(tmp_path)
        assert f"the state directory {tmp_path} is in use by another coldlab serve" in str(refused.value)
        assert "pass another --state-dir" in str(refused.value)
    finally:
        first.close()
    StateDb.open(tmp_path).close()  # the lock went with the first


def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    garbage = b"these are not the droids you are looking for\n" * 200
    path.write_bytes(garbage)
    with pytest.raises(StateError) as refused:
        StateDb.open(tmp_path)
    message = str(refused.value)
    assert message.startswith(f"the state database {path} is corrupt")
    assert "will not overwrite it" in message and "\n" not in message
    assert refused.value.exit_code == 2
    assert path.read_bytes() == garbage  # never overwritten
    with pytest.raises(StateError):
        open_reader(tmp_path)
    StateDb.open(tmp_path / "elsewhere").close()  # the lock was released on the way out


def test_a_damaged_page_fails_the_integrity_check(tmp_path: Path) -> None:
    state = StateDb.open(tmp_path)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("CREATE TABLE filler (x TEXT)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 200,) for _ in range(2000)])
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    state.close()
    path = tmp_path / DB_NAME
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, 5 * page):  # scribble over a few interior pages
        data[offset + 8 : offset + 100] = b"\xff" * 92
    path.write_bytes(bytes(data))
    with pytest.raises(StateError) as refused:
        StateDb.open(tmp_path)
    assert "is corrupt" in str(refused.value)
    assert path.read_bytes() == bytes(data)


def test_a_database_locked_by_another_process_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "LOCK_WAIT_S", 0.1)
    StateDb.open(tmp_path).close()
    holder = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StateError) as refused:
            StateDb.open(tmp_path)
        assert str(refused.value).startswith(
            f"the state database {tmp_path / DB_NAME} is locked by another process"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    StateDb.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StateError) as refused:
        StateDb.open(tmp_path)
    assert f"has schema version {SCHEMA_VERSION + 1}" in str(refused.value)


def test_the_writer_batches_and_one_failure_stays_its_own(tmp_path: Path) -> None:
    state = StateDb.open(tmp_path)

    async def run() -> list[object]:
        writer = state.writer
        await writer.call(lambda conn: conn.execute("CREATE TABLE t (x INTEGER UNIQUE)"))

        def insert(value: int) -> object:
            return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (value,)).rowcount

        return await asyncio.gather(
            writer.call(insert(1)), writer.call(insert(1)), writer.call(insert(2)), return_exceptions=True
        )

    results = asyncio.run(run())
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], sqlite3.IntegrityError)  # the duplicate failed alone
    state.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert sorted(row[0] for row in conn.execute("SELECT x FROM t")) == [1, 2]
    conn.close()


def test_a_missing_database_is_one_line_for_readers(tmp_path: Path) -> None:
    with pytest.raises(StateError) as refused:
        open_reader(tmp_path)
    assert str(refused.value) == (
        f"no state database in {tmp_path} (run `coldlab serve --state-dir {tmp_path}` first, or pass the "
        "--state-dir it used)"
    )
