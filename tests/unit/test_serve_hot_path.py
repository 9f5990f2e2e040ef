"""The warm invoke path's own parts: the platform event queue's timed wait, and the server's loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from coldlab.gateway.server import run
from coldlab.platform.event_queue import EventQueue, Exited


def test_next_before_returns_queued_events_in_order_even_past_the_deadline() -> None:
    async def scenario() -> list[object]:
        queue = EventQueue()
        queue.put_nowait(Exited(1))
        queue.put_nowait(Exited(2))
        past = time.perf_counter() - 1
        return [await queue.next_before(past), await queue.next_before(past), await queue.next_before(past)]

    assert asyncio.run(scenario()) == [Exited(1), Exited(2), None]


def test_next_before_wakes_on_a_put_and_gives_none_at_the_deadline() -> None:
    async def scenario() -> tuple[object, object]:
        queue = EventQueue()
        loop = asyncio.get_running_loop()
        loop.call_soon(queue.put_nowait, Exited(3))
        woken = await queue.next_before(time.perf_counter() + 30)  # woken by the put, not the timer
        expired = await queue.next_before(time.perf_counter() + 0.01)
        return woken, expired

    assert asyncio.run(scenario()) == (Exited(3), None)


def test_the_server_runs_on_uvloop_when_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    assert run(loop_type()) is uvloop.Loop
