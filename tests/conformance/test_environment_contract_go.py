"""Runtime-contract fixes found with aws-lambda-go (issue 10 items 3-5 and 7), through the real platform.

The function is examples/hello-aws-lambda-go, built with aws-lambda-go from the module proxy; the host is
the default one (cgroup v1 as root here), so freezes and memory peaks are the kernel's.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from support.runtime_scripts import GoBuilder, run

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def hello(go_build: GoBuilder) -> Path:
    return go_build("hello-aws-lambda-go").parent


def freezer_state(env: Environment) -> str | None:
    dirs = getattr(env._sandbox, "cgroup_dirs", None)
    return (Path(dirs["freezer"]) / "freezer.state").read_text().strip() if dirs else None


def test_a_killed_runtime_never_receives_the_next_invocation(hello: Path) -> None:
    """The issue's reproduction, 50 times: the handler returns ctx.Err() at its deadline, which is when
    coldlab kills it; its keep-alive connection then polls `/next` again around the reset. The next invoke
    must always reach the new process. Ten environments at a time keep the run short."""
    config = FunctionConfig.create(hello, timeout_s=1)

    async def one() -> list[InvocationResult]:
        async with Environment(config) as env:
            timed_out = await env.invoke(b'{"sleep_ms": 3000}')
            after = await env.invoke(b'{"name": "next"}')
            return [timed_out, after]

    async def scenario() -> list[list[InvocationResult]]:
        pairs: list[list[InvocationResult]] = []
        for _ in range(5):
            pairs += await asyncio.gather(*(one() for _ in range(10)))
        return pairs

    pairs = run(scenario())
    assert len(pairs) == 50
    for timed_out, after in pairs:
        assert timed_out.status in {"timeout", "error"}  # killed at the deadline, or it answered ctx.Err() first
        assert after.ok, after.payload
        reply = json.loads(after.payload)
        assert reply["message"] == "hello, next"
        assert reply["context"]["aws_request_id"] == after.request_id


def test_the_deadline_after_a_suppressed_reinit_is_the_one_coldlab_kills_at(hello: Path) -> None:
    """After a crash the next invoke re-runs init (800 ms here) inside its own 3 s. The handler stops 300 ms
    before ctx.Deadline(); if that deadline were computed after the re-init, coldlab would kill it first."""
    config = FunctionConfig.create(hello, timeout_s=3, environment={"HELLO_INIT_SLEEP_MS": "800"})

    async def scenario() -> tuple[InvocationResult, InvocationResult]:
        async with Environment(config) as env:
            crashed = await env.invoke(b'{"panic": true}')
            reinit = await env.invoke(b'{"sleep_ms": 10000, "reserve_ms": 300}')
            return crashed, reinit

    crashed, reinit = run(scenario())
    assert crashed.error_type == "Runtime.ExitError"
    assert reinit.status == "error"  # the handler gave up in time: not "timeout"
    assert reinit.error_type == "deadlineExceededError"
    assert any(line.startswith("INIT_REPORT") for line in reinit.log_lines) is False  # init itself succeeded


def test_max_memory_used_after_a_crash_or_timeout_is_read_before_the_sandbox_goes(hello: Path) -> None:
    """Each on a fresh environment's first (cold) invoke: a panic there reported 2 MB (the cgroup's charge,
    read after the process had gone) where the same binary reports 7 MB (its VmHWM) when it survives."""
    config = FunctionConfig.create(hello, timeout_s=1, memory_mb=256)

    async def first_invoke(event: bytes) -> InvocationResult:
        async with Environment(config) as env:
            return await env.invoke(event)

    survived = run(first_invoke(b"{}"))
    crashed = run(first_invoke(b'{"panic": true}'))
    timed_out = run(first_invoke(b'{"sleep_ms": 5000}'))
    assert survived.ok and crashed.error_type == "Runtime.ExitError"
    assert timed_out.status in {"timeout", "error"}
    assert crashed.max_memory_used_mb >= survived.max_memory_used_mb - 1
    assert timed_out.max_memory_used_mb >= survived.max_memory_used_mb - 1


def test_the_environment_is_frozen_after_every_invoke_even_back_to_back(hello: Path) -> None:
    """`--repeat N --interval 0` never froze (the freeze was scheduled after the answer and cancelled by the
    next invoke). Now the kernel says FROZEN after each answer, and the init goroutine's ticks do not move
    while the process waits frozen."""
    config = FunctionConfig.create(hello, memory_mb=512)

    async def scenario() -> tuple[list[str | None], int, list[InvocationResult]]:
        async with Environment(config) as env:
            states, results = [], []
            for _ in range(20):
                results.append(await env.invoke(b"{}"))
                states.append(freezer_state(env))
            await asyncio.sleep(0.3)  # 30 ticks' worth of time, frozen
            results.append(await env.invoke(b"{}"))
            return states, env.freezes, results

    states, freezes, results = run(scenario())
    if states[0] is None:
        pytest.skip("no cgroup freezer on this host")
    assert states == ["FROZEN"] * 20
    assert freezes == 21
    before, after = results[-2], results[-1]
    ticks_before = json.loads(before.payload)["ticks_at_end"]
    ticks_after = json.loads(after.payload)["ticks_at_start"]
    assert ticks_after - ticks_before < 15  # ran for a few ms between freezes, not the 300 ms it waited


def test_provisioned_init_runs_ahead_and_the_first_invoke_reports_it(hello: Path) -> None:
    config = FunctionConfig.create(hello)

    async def scenario() -> tuple[object, list[InvocationResult], str, str]:
        env = Environment(config, initialization_type="provisioned-concurrency")
        async with env:
            assert env.state == "new"
            outcome = await env.initialize()
            idle = env.state
            state = freezer_state(env) or "FROZEN"
            results = [await env.invoke(b"{}"), await env.invoke(b"{}")]
            return outcome, results, idle, state

    outcome, (first, second), idle, state = run(scenario())
    assert getattr(outcome, "ok", False) and idle == "idle" and state == "FROZEN"
    assert any(line.startswith("INIT_START") for line in getattr(outcome, "log_lines", ()))
    assert not first.cold and json.loads(first.payload)["cold_start"] is True  # init ran, not on this path
    assert first.init_duration_ms == getattr(outcome, "duration_ms", None)
    assert "Init Duration" in first.log_lines[-1]
    assert first.billed_duration_ms < first.duration_ms + 1  # provisioned init is not billed per invoke
    assert second.init_duration_ms is None
