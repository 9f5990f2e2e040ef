"""CPU bought with memory, end to end: the CPU-bound example halves with doubled memory up to 1769 MB,
is flat beyond (one goroutine cannot use a second vCPU), and tune's speed pick is >= 1769 MB."""

from __future__ import annotations

import asyncio

import pytest

from coldlab.tune.analysis import analyse
from coldlab.tune.backends.local import LocalBackend, cpu_limited
from coldlab.tune.costs import PricingCosts
from coldlab.tune.plan import Target, build_plan
from coldlab.tune.run import execute
from support.runtime_scripts import GoBuilder

pytestmark = [pytest.mark.cgroup, pytest.mark.go]


def test_cpu_bound_duration_follows_memory_up_to_one_vcpu(go_build: GoBuilder, tmp_path: object) -> None:
    code = go_build("cpu-go").parent
    backend = LocalBackend(code)
    fidelity = backend.fidelity(128)
    if not cpu_limited(fidelity):
        pytest.skip(f"CPU quota not in force on this machine ({fidelity['cpu']}): durations cannot follow memory")
    event = code.parent / "cpu-event.json"
    event.write_text('{"cpu_ms": 10}')  # 10 ms of CPU: ~140 ms at 128 MB (0.072 vCPU), ~10 ms at 1769 MB
    plan = build_plan(Target("local", code=code), memory="128,256,1769,3008", invocations=3, event=str(event),
                      strategy="speed")
    execution = asyncio.run(execute(plan, backend))
    result = analyse(list(execution.samples), PricingCosts(), strategy="speed", memory_sizes=plan.memory_sizes)
    speed = {s.memory_mb: s.speed_ms for s in result.stats}
    assert all(s.errors == 0 for s in result.stats)
    d128, d256, d1769, d3008 = (speed[m] for m in (128, 256, 1769, 3008))
    assert d128 is not None and d256 is not None and d1769 is not None and d3008 is not None
    assert 1.5 < d128 / d256 < 2.7, speed  # doubled memory, halved duration
    assert d256 / d1769 > 3.5, speed  # 6.9x the CPU (minus fixed per-invoke overhead)
    assert 0.7 < d1769 / d3008 < 1.45, speed  # flat beyond one vCPU: single-threaded
    pick = result.archs[0].picks["speed"]
    assert pick >= 1769, speed
    assert result.archs[0].recommended == pick
