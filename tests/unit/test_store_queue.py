"""The Event queue's SQL: claim marks rows running, a crash's running rows come back as duplicates, held
destination records survive, counters add up, configs are per qualifier."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace

import pytest

from coldlab.store import queue
from coldlab.store.db import MIGRATIONS
from coldlab.store.queue import QueuedEvent


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    for statement in MIGRATIONS[1]:
        connection.execute(statement)
    yield connection
    connection.close()


def event(request_id: str, due_at: float = 0.0, function: str = "fn") -> QueuedEvent:
    return QueuedEvent(request_id, function, "$LATEST", b'{"n": 1}', accepted_at=0.0, due_at=due_at)


def test_claim_takes_due_rows_oldest_first_and_marks_them_running(conn: sqlite3.Connection) -> None:
    for rid, due in (("b", 2.0), ("a", 1.0), ("later", 50.0)):
        queue.enqueue(conn, event(rid, due))
    claimed = queue.claim(conn, now=10.0, limit=5)
    assert [e.request_id for e in claimed] == ["a", "b"]
    assert claimed[0].payload == b'{"n": 1}'
    assert queue.states(conn) == {"fn": {"running": 2, "queued": 1}}
    assert queue.claim(conn, now=10.0, limit=5) == []  # running rows are not handed out twice
    assert queue.next_due(conn) == 50.0
    assert queue.counts(conn) == {"fn": {"accepted": 3}}


def test_recover_puts_running_rows_back_as_duplicates(conn: sqlite3.Connection) -> None:
    queue.enqueue(conn, event("cut-off"))
    queue.enqueue(conn, event("waiting", due_at=99.0))
    queue.claim(conn, now=1.0, limit=1)
    assert queue.recover(conn, now=5.0) == {"fn": 1}
    assert queue.ids(conn, "queued") == ["cut-off", "waiting"]
    assert queue.counts(conn)["fn"]["duplicates"] == 1
    again = queue.claim(conn, now=5.0, limit=5)
    assert [(e.request_id, e.invokes) for e in again] == [("cut-off", 1)]  # it probably ran: counted
    assert queue.recover(conn, now=6.0) == {"fn": 1}


def test_requeue_hold_and_finish(conn: sqlite3.Connection) -> None:
    queue.enqueue(conn, event("e"))
    (claimed,) = queue.claim(conn, now=1.0, limit=1)
    queue.requeue(conn, replace(claimed, due_at=30.0, retries=1, invokes=1, backoff_s=2.0))
    assert queue.claim(conn, now=29.0, limit=1) == []
    (again,) = queue.claim(conn, now=30.0, limit=1)
    assert (again.retries, again.invokes, again.backoff_s) == (1, 1, 2.0)
    queue.hold_for_destination(conn, replace(again, due_at=40.0, outcome='{"kind": "OnFailure"}'))
    assert queue.states(conn) == {"fn": {"destination": 1}}
    (held,) = queue.claim(conn, now=40.0, limit=1)
    assert held.state == "destination" and held.record() == {"kind": "OnFailure"}
    assert queue.states(conn) == {"fn": {"destination": 1}}  # being written: still shown as held
    queue.recover(conn, now=41.0)  # a crash while writing: held again, not a duplicate delivery
    assert queue.ids(conn, "destination") == ["e"]
    assert "duplicates" not in queue.counts(conn)["fn"]
    queue.finish(conn, "e")
    assert queue.states(conn) == {}


def test_counters_add_up_per_function(conn: sqlite3.Connection) -> None:
    queue.bump(conn, "a", "retries")
    queue.bump(conn, "a", "retries", 2)
    queue.bump(conn, "b", "dropped")
    assert queue.counts(conn) == {"a": {"retries": 3}, "b": {"dropped": 1}}


def test_configs_are_per_qualifier_and_go_with_the_function(conn: sqlite3.Connection) -> None:
    queue.put_config(conn, "fn", "$LATEST", {"MaximumRetryAttempts": 0})
    queue.put_config(conn, "fn", "live", {"MaximumRetryAttempts": 1})
    queue.put_config(conn, "fn", "live", {"MaximumRetryAttempts": 2})  # replaced
    queue.put_config(conn, "other", "$LATEST", {})
    assert queue.load_configs(conn) == {
        ("fn", "$LATEST"): {"MaximumRetryAttempts": 0},
        ("fn", "live"): {"MaximumRetryAttempts": 2},
        ("other", "$LATEST"): {},
    }
    queue.delete_config(conn, "fn", "live")
    assert ("fn", "live") not in queue.load_configs(conn)
    queue.delete_config(conn, "fn")
    assert list(queue.load_configs(conn)) == [("other", "$LATEST")]
