"""The spare sandbox's bookkeeping, with a fake preparation (no processes)."""

from __future__ import annotations

import asyncio
from typing import Any

from coldlab.platform.spare import Spare


class FakeProcess:
    returncode: int | None = None


class FakeSandbox:
    def __init__(self) -> None:
        self.process = FakeProcess()


class FakePrepared:
    def __init__(self) -> None:
        self.discarded = False
        self.sandbox = FakeSandbox()

    @property
    def alive(self) -> bool:
        return self.sandbox.process.returncode is None

    def discard(self) -> None:
        self.discarded = True


def maker(made: list[FakePrepared], delay: float = 0.0) -> Any:
    async def make() -> Any:
        await asyncio.sleep(delay)
        prepared = FakePrepared()
        made.append(prepared)
        return prepared

    return make


def test_one_spare_at_a_time_and_take_uses_it() -> None:
    made: list[FakePrepared] = []

    async def go() -> Any:
        spare = Spare(maker(made))
        spare.refill()
        spare.refill()  # already one: no second
        await spare.ready()
        taken = await spare.take()
        assert spare.pending is None
        return taken

    taken = asyncio.run(go())
    assert len(made) == 1 and taken == made[0]


def test_without_a_spare_take_prepares_one_now() -> None:
    made: list[FakePrepared] = []

    async def go() -> None:
        spare = Spare(maker(made), enabled=False)
        spare.refill()  # disabled: nothing in the background
        assert spare.pending is None
        await spare.take()

    asyncio.run(go())
    assert len(made) == 1


def test_close_discards_a_ready_spare_and_stops_refills() -> None:
    made: list[FakePrepared] = []

    async def go() -> None:
        spare = Spare(maker(made))
        spare.refill()
        await spare.ready()
        spare.close()
        spare.refill()
        assert spare.pending is None

    asyncio.run(go())
    assert len(made) == 1
    assert made[0].discarded


def test_close_during_preparation_cancels_it() -> None:
    made: list[FakePrepared] = []

    async def go() -> None:
        spare = Spare(maker(made, delay=10))
        spare.refill()
        await asyncio.sleep(0)
        spare.close()
        await asyncio.sleep(0.01)

    asyncio.run(go())
    assert made == []  # cancelled before it made anything


def test_a_spare_that_died_waiting_is_replaced() -> None:
    made: list[FakePrepared] = []

    async def go() -> Any:
        spare = Spare(maker(made))
        spare.refill()
        await spare.ready()
        made[0].sandbox.process.returncode = -9  # its zygote was killed
        return await spare.take()

    taken = asyncio.run(go())
    assert len(made) == 2 and taken == made[1]
    assert made[0].discarded
