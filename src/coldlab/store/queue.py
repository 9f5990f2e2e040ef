"""The durable queue of Event invocations, their counters, and the functions' event invoke configs.

Pure SQL on a connection the caller owns (coldlab.store.db.Writer runs these in its thread). States:
`queued` (waiting for `due_at`), `running` (handed to the platform; a row still running at start-up was cut
off by a crash and is delivered again: a duplicate), `destination` (its destination record could not be
written yet; retried), `writing` (being written). A row is deleted only once it was delivered and its
destination record, if any, was written: at least once, never lost.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

SCHEMA = (
    """CREATE TABLE events (
        request_id TEXT PRIMARY KEY,
        function TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        payload BLOB NOT NULL,
        accepted_at REAL NOT NULL,
        due_at REAL NOT NULL,
        state TEXT NOT NULL,
        invokes INTEGER NOT NULL DEFAULT 0,
        retries INTEGER NOT NULL DEFAULT 0,
        backoff_s REAL NOT NULL DEFAULT 0,
        outcome TEXT
    )""",
    "CREATE INDEX events_due ON events (state, due_at)",
    """CREATE TABLE event_counts (
        function TEXT NOT NULL,
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (function, name)
    )""",
    """CREATE TABLE event_invoke_configs (
        function TEXT NOT NULL,
        qualifier TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (function, qualifier)
    )""",
)
WAITING = ("queued", "destination")
COUNTERS = (
    "accepted",  # 202 given
    "invokes",  # times the function ran for an event (retries and duplicates included)
    "succeeded",
    "retries",  # retries scheduled after a function error or timeout
    "throttled",  # returned to the queue by a throttle (retried with backoff)
    "system_errors",  # returned to the queue by a platform error (retried with backoff)
    "to_destination",  # on-failure records written
    "on_success",  # on-success records written
    "dropped",  # failed with no on-failure destination (as Lambda drops them)
    "expired",  # reached MaximumEventAgeInSeconds
    "duplicates",  # delivered again after a crash cut a delivery off
)
# Constant column lists (never user input) are formatted into the SQL below: hence the S608 notes.
_COLUMNS = (
    "request_id, function, qualifier, payload, accepted_at, due_at, state, "
    "invokes, retries, backoff_s, outcome"
)


@dataclass(frozen=True)
class QueuedEvent:
    request_id: str
    function: str
    qualifier: str
    payload: bytes
    accepted_at: float  # epoch seconds
    due_at: float
    state: str = "queued"
    invokes: int = 0  # how many times the function ran for it (approximateInvokeCount)
    retries: int = 0  # retries after function errors so far
    backoff_s: float = 0.0  # the last throttle/system-error delay (the next one doubles it)
    outcome: str | None = None  # JSON: the destination record waiting to be written

    def record(self) -> dict[str, Any]:
        return dict(json.loads(self.outcome)) if self.outcome else {}


def _event(row: tuple[Any, ...]) -> QueuedEvent:
    return QueuedEvent(
        row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6], row[7], row[8], row[9], row[10]
    )


def bump(conn: sqlite3.Connection, function: str, name: str, by: int = 1) -> None:
    conn.execute(
        "INSERT INTO event_counts (function, name, value) VALUES (?, ?, ?) "
        "ON CONFLICT (function, name) DO UPDATE SET value = value + excluded.value",
        (function, name, by),
    )


def enqueue(conn: sqlite3.Connection, event: QueuedEvent) -> None:
    conn.execute(
        f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 (constant columns)
        (
            event.request_id,
            event.function,
            event.qualifier,
            event.payload,
            event.accepted_at,
            event.due_at,
            event.state,
            event.invokes,
            event.retries,
            event.backoff_s,
            event.outcome,
        ),
    )
    bump(conn, event.function, "accepted")


def recover(conn: sqlite3.Connection, now: float) -> dict[str, int]:
    """At start-up: deliveries a crash cut off go back to the queue, due now, and count as duplicates
    (the function probably ran: it runs again, as Lambda may). Returns the duplicates by function."""
    rows = conn.execute(
        "SELECT function, count(*) FROM events WHERE state = 'running' GROUP BY function"
    ).fetchall()
    conn.execute(
        "UPDATE events SET state = 'queued', due_at = min(due_at, ?), invokes = invokes + 1 "
        "WHERE state = 'running'",
        (now,),
    )
    conn.execute("UPDATE events SET state = 'destination' WHERE state = 'writing'")
    duplicates = {str(function): int(count) for function, count in rows}
    for function, count in duplicates.items():
        bump(conn, function, "duplicates", count)
        bump(conn, function, "invokes", count)
    return duplicates


def claim(conn: sqlite3.Connection, now: float, limit: int) -> list[QueuedEvent]:
    """Up to `limit` waiting rows due by `now`, oldest due first, marked running (or writing)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM events WHERE state IN ('queued', 'destination') AND due_at <= ? "  # noqa: S608 (constant columns)
        "ORDER BY due_at LIMIT ?",
        (now, limit),
    ).fetchall()
    events = [_event(row) for row in rows]
    conn.executemany(
        "UPDATE events SET state = CASE state WHEN 'queued' THEN 'running' ELSE 'writing' END "
        "WHERE request_id = ?",
        [(event.request_id,) for event in events],
    )
    return events


def next_due(conn: sqlite3.Connection) -> float | None:
    row = conn.execute("SELECT min(due_at) FROM events WHERE state IN ('queued', 'destination')").fetchone()
    return None if row is None or row[0] is None else float(row[0])


def requeue(conn: sqlite3.Connection, event: QueuedEvent) -> None:
    """Back to the queue with the event's new due time, invoke count, retries and backoff."""
    conn.execute(
        "UPDATE events SET state = 'queued', due_at = ?, invokes = ?, retries = ?, backoff_s = ? "
        "WHERE request_id = ?",
        (event.due_at, event.invokes, event.retries, event.backoff_s, event.request_id),
    )


def hold_for_destination(conn: sqlite3.Connection, event: QueuedEvent) -> None:
    """The record could not be written: keep it (and the event) and try again at `due_at`."""
    conn.execute(
        "UPDATE events SET state = 'destination', due_at = ?, invokes = ?, backoff_s = ?, outcome = ? "
        "WHERE request_id = ?",
        (event.due_at, event.invokes, event.backoff_s, event.outcome, event.request_id),
    )


def drop_waiting(conn: sqlite3.Connection, function: str) -> None:
    """A deleted function's waiting rows (queued or holding a record); running ones end on their own."""
    conn.execute("DELETE FROM events WHERE function = ? AND state IN ('queued', 'destination')", (function,))


def finish(conn: sqlite3.Connection, request_id: str) -> None:
    conn.execute("DELETE FROM events WHERE request_id = ?", (request_id,))


def counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Every counter, by function."""
    found: dict[str, dict[str, int]] = {}
    for function, name, value in conn.execute("SELECT function, name, value FROM event_counts"):
        found.setdefault(function, {})[name] = int(value)
    return found


def states(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Rows in the queue by function and state (`writing` shown as `destination`, `running` as is)."""
    found: dict[str, dict[str, int]] = {}
    for function, state, count in conn.execute(
        "SELECT function, state, count(*) FROM events GROUP BY function, state"
    ):
        shown = "destination" if state == "writing" else state
        by_state = found.setdefault(function, {})
        by_state[shown] = by_state.get(shown, 0) + int(count)
    return found


def ids(conn: sqlite3.Connection, state: str) -> list[str]:
    """The request ids of the rows in one state, oldest first."""
    rows = conn.execute("SELECT request_id FROM events WHERE state = ? ORDER BY accepted_at", (state,))
    return [str(row[0]) for row in rows]


# --- event invoke configs (PutFunctionEventInvokeConfig and friends) ---------------------------------------


def put_config(conn: sqlite3.Connection, function: str, qualifier: str, config: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO event_invoke_configs (function, qualifier, config) VALUES (?, ?, ?) "
        "ON CONFLICT (function, qualifier) DO UPDATE SET config = excluded.config",
        (function, qualifier, json.dumps(config)),
    )


def delete_config(conn: sqlite3.Connection, function: str, qualifier: str | None = None) -> None:
    """One qualifier's config, or (qualifier None) every config of a deleted function."""
    if qualifier is None:
        conn.execute("DELETE FROM event_invoke_configs WHERE function = ?", (function,))
    else:
        conn.execute(
            "DELETE FROM event_invoke_configs WHERE function = ? AND qualifier = ?", (function, qualifier)
        )


def load_configs(conn: sqlite3.Connection) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (function, qualifier): dict(json.loads(config))
        for function, qualifier, config in conn.execute(
            "SELECT function, qualifier, config FROM event_invoke_configs"
        )
    }
