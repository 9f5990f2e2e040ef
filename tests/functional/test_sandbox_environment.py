"""Resource shaping end to end, through the execution environment: frozen between invocations, killed at
the memory limit as Lambda reports it, CPU bought with memory."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from coldlab.sandbox import selection
from support.runtime_scripts import GoBuilder, gone

_chosen = selection()
pytestmark = [
    pytest.mark.cgroup,
    pytest.mark.go,
    pytest.mark.skipif(_chosen.degraded, reason=f"needs cgroups: {_chosen.notice}"),
]


def invoke(code: Path, memory_mb: int, *steps: tuple[dict[str, Any], float]) -> list[InvocationResult]:
    """Invoke once per (event, pause before it in seconds) on one environment."""

    async def go() -> list[InvocationResult]:
        async with Environment(FunctionConfig.create(code, memory_mb=memory_mb, timeout_s=30)) as env:
            results = []
            for event, pause_s in steps:
                await asyncio.sleep(pause_s)  # the sandbox is frozen meanwhile
                results.append(await env.invoke(json.dumps(event).encode()))
            return results

    results: list[InvocationResult] = asyncio.run(go())
    return results


def test_no_ticks_accumulate_while_frozen_and_timers_fire_late(go_build: GoBuilder) -> None:
    code = go_build("ticker-go").parent
    _, warm = invoke(code, 1769, ({"wait_ms": 30}, 0), ({"wait_ms": 30}, 0.5))
    reply = json.loads(warm.payload)
    assert reply["wall_since_last_ms"] >= 500  # half a second passed outside the function...
    assert reply["since_last"] <= 8  # ...but only the ~3 ticks of its own 30 ms wait (+ one late) ran
    assert reply["max_gap_ms"] >= 400  # the first tick after the thaw came as late as the freeze was long
    assert warm.fidelity["freeze"].startswith("cgroup-")


def test_memory_exhaustion_is_signal_killed_at_the_memory_size(go_build: GoBuilder) -> None:
    code = go_build("gomaxprocs-go").parent
    (result,) = invoke(code, 128, ({"work": "hog"}, 0))
    assert result.error_type == "Runtime.ExitError"
    assert result.function_error == "Unhandled"
    assert json.loads(result.payload)["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert result.max_memory_used_mb == 128
    (report,) = (line for line in result.log_lines if line.startswith("REPORT"))
    assert "\tMemory Size: 128 MB\tMax Memory Used: 128 MB\t" in report
    assert report.endswith("\tStatus: error\tError Type: Runtime.ExitError")


def test_cpu_bound_invoke_duration_scales_with_memory(go_build: GoBuilder) -> None:
    """REPORT Duration at 256 MB is about 6.9x, at 128 MB about 13.8x the 1769 MB one.

    Per CPU-millisecond the function used, the stretch must be within 15% of the ideal: that is the quota's
    doing. The raw ratio is not asserted: at 7% of a core, every 1.4 ms slice starts with caches other
    processes have cooled, so the same work takes 15-20% more CPU than at a full core (measured); the
    function's own CPU time (getrusage) shows it, and the per-CPU stretch takes it out.
    """
    code = go_build("gomaxprocs-go").parent
    work = {"work": "spin", "units": 80}

    def warm(memory_mb: int) -> tuple[float, float]:
        _, measured = invoke(code, memory_mb, ({"work": "spin", "units": 1}, 0), (work, 0))
        return measured.duration_ms, json.loads(measured.payload)["cpu_ms"]

    # Other tests may take part of the one core the 1769 MB run needs: keep the best of three, and if it
    # still ran longer than the CPU it used, its uncontended time at one vCPU is that CPU time.
    duration, base_cpu = min((warm(1769) for _ in range(3)), key=lambda pair: pair[0])
    base = duration if duration <= base_cpu * 1.05 + 2 else base_cpu + 2  # +2 ms: the Runtime API round trip
    for memory_mb in (256, 128):
        took, cpu_ms = warm(memory_mb)
        ideal = 1769 / memory_mb
        per_cpu = (took / base) / (cpu_ms / base_cpu)
        detail = (memory_mb, took, cpu_ms, base, base_cpu)
        assert ideal * 0.85 <= per_cpu <= ideal * 1.15, detail


def test_timeout_crash_and_close_leave_no_process_and_no_cgroup(go_build: GoBuilder) -> None:
    code = go_build("hello-go").parent
    seen: list[tuple[int, list[Path]]] = []

    def remember(env: Environment) -> None:
        sandbox = env._sandbox  # the test looks inside: which process and cgroups did this sandbox get?
        dirs = list(getattr(sandbox, "cgroup_dirs", {}).values()) or [getattr(sandbox, "env_dir", Path("/x"))]
        assert sandbox is not None
        seen.append((sandbox.process.pid, dirs))

    async def go() -> list[InvocationResult]:
        config = FunctionConfig.create(code, memory_mb=256, timeout_s=1)
        async with Environment(config) as env:
            results = [await env.invoke(b"{}")]
            remember(env)
            results.append(await env.invoke(b'{"sleep_ms": 3000}'))  # times out: the sandbox is destroyed
            results.append(await env.invoke(b"{}"))
            remember(env)
            results.append(await env.invoke(b'{"crash": true}'))  # exits mid-invoke
            results.append(await env.invoke(b"{}"))
            remember(env)
        return results

    results = asyncio.run(go())
    assert [r.status for r in results] == ["success", "timeout", "success", "error", "success"]
    assert len({pid for pid, _ in seen}) == 3
    for pid, dirs in seen:  # the timed-out one, the crashed one, and the one closed with the environment
        assert gone([pid])
        assert dirs and not any(d.exists() for d in dirs)
