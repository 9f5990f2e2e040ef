"""The serve platform's pure rules: keep-alive, the scaling bucket, the account limit, names and ARNs, the
registry's concurrency rules, and the pool's scheduling with a scripted environment (no processes)."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from coldlab.config import FunctionConfig
from coldlab.errors import (
    InvalidParameterValue,
    ResourceConflict,
    ResourceNotFound,
    TooManyRequests,
    UsageError,
)
from coldlab.gateway.invoke_api import TAIL_BYTES, log_tail
from coldlab.platform.limits import KeepAlive, TokenBucket, default_account_limit
from coldlab.platform.pool import Pool, PoolEvent
from coldlab.platform.registry import Code, Registry, Version, parse_ref
from coldlab.platform.result import InitOutcome, InvocationResult

_ids = itertools.count()


def result(lines: tuple[str, ...] = ()) -> InvocationResult:
    return InvocationResult(
        "r", b"{}", "application/json", "success", None, None, False, 1.0, 1, None, 128, 7, lines
    )


class ScriptedEnv:
    """Stands in for an Environment: counts calls; `hold` keeps invokes running until released."""

    def __init__(self, init_ok: bool = True) -> None:
        self.id = f"e{next(_ids)}"
        self.init_ok = init_ok
        self.closed = False
        self.invokes = 0
        self.hold: asyncio.Event | None = None

    @property
    def state(self) -> str:
        return "closed" if self.closed else "idle"

    @property
    def pid(self) -> int | None:
        return None

    async def start(self) -> None:
        pass

    async def initialize(self) -> InitOutcome:
        return InitOutcome(
            self.init_ok, 5.0 if self.init_ok else None, None if self.init_ok else "Runtime.ExitError"
        )

    async def invoke(
        self,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        on_response: Any = None,
    ) -> InvocationResult:
        self.invokes += 1
        if self.hold is not None:
            await self.hold.wait()
        return result()

    async def close(self) -> None:
        self.closed = True


def version(name: str = "fn", generation: int = 0) -> Version:
    config = FunctionConfig(code=Path("/nonexistent"), function_name=name)
    return Version("$LATEST", config, Code(Path("/nonexistent"), "sha", 1), generation=generation)


def registry_with(name: str = "fn", limit: int = 1000) -> Registry:
    registry = Registry(account_limit=limit)
    registry.activate(registry.add(version(name)))
    return registry


def test_keep_alive_parsing_and_draws() -> None:
    assert KeepAlive.parse("600") == KeepAlive(600.0, 600.0)
    assert KeepAlive.parse("300,420") == KeepAlive(300.0, 420.0)
    rng = random.Random(1)
    draws = [KeepAlive().draw(rng) for _ in range(200)]
    assert all(300 <= d <= 420 for d in draws) and len(set(draws)) > 100  # per environment, not one value
    for bad in ("", "soon", "5,1", "-1", "1,2,3", "nan"):
        with pytest.raises(UsageError):
            KeepAlive.parse(bad)


def test_token_bucket_refills_continuously_and_never_banks() -> None:
    now = [0.0]
    bucket = TokenBucket(capacity=3, rate=1.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 1.0
    assert bucket.take() and not bucket.take()
    now[0] = 100.0  # a long quiet spell refills to capacity, not beyond
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_default_account_limit_is_what_memory_holds_at_most_1000() -> None:
    assert default_account_limit(128, available_mb=1280) == 10
    assert default_account_limit(10240, available_mb=512) == 1
    assert default_account_limit(128, available_mb=10**7) == 1000


def test_names_and_arns() -> None:
    assert parse_ref("fn") == ("fn", None)
    assert parse_ref("fn:live") == ("fn", "live")
    assert parse_ref("123456789012:function:fn:3") == ("fn", "3")
    assert parse_ref("arn:aws:lambda:us-east-1:123456789012:function:fn", "live") == ("fn", "live")
    with pytest.raises(InvalidParameterValue, match="derived qualifier"):
        parse_ref("fn:1", "2")
    with pytest.raises(InvalidParameterValue):
        parse_ref("not a/name")


def test_registry_resolves_versions_and_aliases() -> None:
    registry = registry_with()
    function = registry.get("fn")
    published = registry.publish(function)
    assert published.version == "1" and published.config.version == "1"
    assert registry.publish(function) is published  # nothing changed: the same version
    registry.create_alias(function, "live", "1")
    assert registry.resolve("fn", "live").version.version == "1"
    assert registry.resolve("fn:$LATEST").version.version == "$LATEST"
    with pytest.raises(ResourceNotFound, match=r"function:fn:9$"):
        registry.resolve("fn", "9")
    with pytest.raises(InvalidParameterValue):
        registry.create_alias(function, "123", "1")  # all digits is a version, not an alias
    with pytest.raises(ResourceConflict):
        registry.create_alias(function, "live", "1")


def test_reserved_concurrency_keeps_the_unreserved_minimum() -> None:
    registry = registry_with(limit=1000)
    function = registry.get("fn")
    registry.put_reserved(function, 900)
    with pytest.raises(InvalidParameterValue, match=r"minimum value of \[100\]"):
        registry.put_reserved(function, 901)
    assert registry_with(limit=20).unreserved_min == 2  # a small local account keeps the same tenth


def test_provisioned_rules() -> None:
    registry = registry_with()
    function = registry.get("fn")
    with pytest.raises(InvalidParameterValue, match="unpublished function versions"):
        registry.provisioned_target(function, "$LATEST", putting=True)
    with pytest.raises(InvalidParameterValue, match="must be an alias or a published version"):
        registry.provisioned_target(function, None, putting=False)
    registry.publish(function)
    registry.create_alias(function, "live", "1")
    registry.put_provisioned(function, registry.provisioned_target(function, "live", putting=True), 1)
    with pytest.raises(ResourceConflict, match="pointed by a Provisioned Concurrency alias"):
        registry.provisioned_target(function, "1", putting=True)
    function.reserved = 1
    with pytest.raises(InvalidParameterValue, match="should not be greater than"):
        registry.put_provisioned(function, registry.provisioned_target(function, "live", putting=True), 2)


def test_log_tail_is_the_last_4_kb() -> None:
    import base64

    lines = tuple(f"line {i:05d} " + "x" * 90 for i in range(200))
    decoded = base64.b64decode(log_tail(result(lines)))
    assert len(decoded) == TAIL_BYTES
    assert decoded.endswith(lines[-1].encode() + b"\n")


async def _pool_scenario() -> None:
    registry = registry_with()
    target = registry.resolve("fn")
    made: list[ScriptedEnv] = []
    events: list[PoolEvent] = []

    def make(v: Version, init_type: str) -> ScriptedEnv:
        made.append(ScriptedEnv())
        return made[-1]

    pool = Pool(make, account_limit=10, keep_alive=KeepAlive(1000, 1000), on_event=events.append)
    # three at once: three environments; then the most recently idle one is reused
    await asyncio.gather(*(pool.start(target, b"{}") for _ in range(3)))
    assert len(made) == 3 and pool.count("fn").cold_starts == 3
    newest_idle = pool._idle[target.version.key][-1].env
    await pool.start(target, b"{}")
    assert isinstance(newest_idle, ScriptedEnv) and newest_idle.invokes == 2
    # reserved concurrency 1: a second invoke while one runs is throttled with the reserved reason
    pool.set_reserved("fn", 1)
    hold = asyncio.Event()
    for env in made:
        env.hold = hold
    running = pool.start(target, b"{}")
    await asyncio.sleep(0)
    with pytest.raises(TooManyRequests) as throttled:
        await pool.start(target, b"{}")
    assert throttled.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
    hold.set()
    await running
    # a drain closes idle environments now and never hands them out again
    pool.drain("fn")
    await asyncio.sleep(0)
    assert all(env.closed for env in made) and not pool.slots("fn")
    assert [e.kind for e in events].count("cold-start") == 3
    await pool.close()


def test_pool_reuse_throttle_and_drain() -> None:
    asyncio.run(_pool_scenario())


async def _provisioned_scenario(init_ok: bool) -> list[tuple[int, int, str, str | None]]:
    registry = registry_with()
    function = registry.get("fn")
    registry.publish(function)
    target = registry.resolve("fn", "1")
    made: list[ScriptedEnv] = []

    def make(v: Version, init_type: str) -> ScriptedEnv:
        assert init_type == "provisioned-concurrency"
        made.append(ScriptedEnv(init_ok))
        return made[-1]

    reports: list[tuple[int, int, str, str | None]] = []
    pool = Pool(make, account_limit=10)
    pool.provision(target, 2, lambda *report: reports.append(report))
    while not reports or reports[-1][2] == "IN_PROGRESS":
        await asyncio.sleep(0.01)
    if init_ok:
        assert len(made) == 2 and pool.concurrency("fn") == 2  # provisioned environments are held
    else:
        assert len(made) == 2 * 6  # six attempts per environment, each a fresh one
        assert pool.concurrency("fn") == 0 and all(env.closed for env in made)
    await pool.close()
    return reports


def test_provisioned_ready_and_failed() -> None:
    assert asyncio.run(_provisioned_scenario(True))[-1] == (2, 2, "READY", None)
    assert asyncio.run(_provisioned_scenario(False))[-1] == (0, 0, "FAILED", "FUNCTION_ERROR_INIT_FAILURE")


class AnsweringEnv(ScriptedEnv):
    """Answers at once (on_response), then stays busy until `tail` is set: the moment between the
    runtime's POST /response and its next /next."""

    def __init__(self) -> None:
        super().__init__()
        self.tail = asyncio.Event()
        self.answered = asyncio.Event()
        self.lock = asyncio.Lock()  # one invocation at a time, as Environment's own lock

    async def invoke(self, payload: bytes, *, on_response: Any = None, **options: Any) -> InvocationResult:
        async with self.lock:
            self.invokes += 1
            if on_response is not None:
                on_response(_outcome())
            self.answered.set()
            await self.tail.wait()
            return result()


def _outcome() -> Any:
    from coldlab.runtime.model import Outcome

    return Outcome("r", b"{}", "application/json")


async def _claim_scenario() -> None:
    registry = registry_with()
    target = registry.resolve("fn")
    made: list[AnsweringEnv] = []

    def make(v: Version, init_type: str) -> AnsweringEnv:
        made.append(AnsweringEnv())
        return made[-1]

    pool = Pool(make, account_limit=10, keep_alive=KeepAlive(1000, 1000))
    pool.set_reserved("fn", 1)
    first = pool.start(target, b"{}")
    await made[0].answered.wait()  # answered, not yet back on /next
    assert pool.concurrency("fn") == 0  # its request no longer holds the reservation
    second = pool.start(target, b"{}")  # claims that environment: no throttle, no new one
    assert len(made) == 1 and pool.concurrency("fn") == 1
    with pytest.raises(TooManyRequests):  # the one claim is taken: a third waits for nothing, it is throttled
        pool.start(target, b"{}")
    made[0].tail.set()
    await asyncio.gather(first, second)
    assert made[0].invokes == 2
    counts = pool.count("fn")
    assert (counts.cold_starts, counts.throttles, counts.invokes) == (1, 1, 2)
    assert [slot.busy for slot in pool.slots("fn")] == [False]  # released once, after the claimant
    # a drained environment that has answered is never claimed: the next invoke gets a new one
    made[0].tail.clear()
    running = pool.start(target, b"{}")
    await asyncio.sleep(0)
    pool.drain("fn")
    pool.set_reserved("fn", 2)
    fresh = pool.start(target, b"{}")
    assert len(made) == 2
    made[0].tail.set()
    made[1].tail.set()
    await asyncio.gather(running, fresh)
    await pool.close()


def test_an_answered_environment_is_claimed_by_the_next_invoke_instead_of_a_new_one() -> None:
    asyncio.run(_claim_scenario())


async def _rate_scenario() -> list[str]:
    registry = registry_with()
    target = registry.resolve("fn")
    now = [0.0]
    pool = Pool(lambda v, t: ScriptedEnv(), account_limit=10, keep_alive=KeepAlive(1000, 1000), clock=lambda: now[0])
    pool.set_reserved("fn", 2)  # 20 requests per second at most, however short they are

    async def outcome() -> str:
        try:
            await pool.start(target, b"{}")
        except TooManyRequests as throttled:
            return throttled.reason
        return "ok"

    outcomes = [await outcome() for _ in range(21)]
    now[0] += 0.1  # two more tokens
    outcomes += [await outcome() for _ in range(3)]
    await pool.close()
    return outcomes


def test_reserved_concurrency_also_caps_requests_per_second_at_ten_times_it() -> None:
    rate = "ReservedFunctionInvocationRateLimitExceeded"
    assert asyncio.run(_rate_scenario()) == ["ok"] * 20 + [rate] + ["ok", "ok", rate]
