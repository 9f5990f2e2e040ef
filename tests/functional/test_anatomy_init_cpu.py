"""Init's CPU allowance: from exec to the runtime's first /next the sandbox runs on the allowance (default 1 vCPU,
the 1769 MB quota), then on its memory's quota, as published Init Durations (flat across memory) suggest Lambda
does. The bootstrap reads its own cgroup's quota during init and inside a request: the numbers, not timings."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from coldlab.sandbox import select_host
from coldlab.sandbox.initcpu import INIT_CPU_VAR
from support.runtime_scripts import ScriptFactory

QUOTA_READER = """
def quota():
    for line in open("/proc/self/cgroup"):
        _, controllers, path = line.strip().split(":", 2)
        if "cpu" in controllers.split(","):
            with open(f"/sys/fs/cgroup/cpu{path}/../cpu.cfs_quota_us") as f:  # the quota sits on the parent
                return int(f.read())
during = quota()
while True:
    rid, _, _ = next_event()
    respond(rid, json.dumps({"during_init": during, "after": quota()}).encode())
"""


def quotas(code: Path, memory_mb: int, setting: str | None) -> tuple[dict[str, int], dict[str, object]]:
    async def go() -> tuple[dict[str, int], dict[str, object]]:
        async with Environment(FunctionConfig.create(code, memory_mb=memory_mb)) as env:
            result = await env.invoke(b"{}")
            warm = await env.invoke(b"{}")
            assert json.loads(warm.payload)["during_init"] == json.loads(result.payload)["during_init"]
            return json.loads(result.payload), result.fidelity

    saved = os.environ.get(INIT_CPU_VAR)
    try:
        if setting is None:
            os.environ.pop(INIT_CPU_VAR, None)
        else:
            os.environ[INIT_CPU_VAR] = setting
        return asyncio.run(go())
    finally:
        if saved is None:
            os.environ.pop(INIT_CPU_VAR, None)
        else:
            os.environ[INIT_CPU_VAR] = saved


@pytest.fixture
def code(script_bootstrap: ScriptFactory) -> Path:
    if select_host().name != "cgroup-v1":
        pytest.skip("reads cpu.cfs_quota_us: needs the cgroup v1 host")
    return script_bootstrap(QUOTA_READER)


def test_init_runs_on_the_allowance_and_requests_on_the_memory_quota(code: Path) -> None:
    seen, fidelity = quotas(code, 128, None)
    assert seen == {"during_init": 20000, "after": 1447}  # 1 vCPU of a 20 ms period, then 128/1769 of it
    assert str(fidelity["init_cpu"]).startswith("1.000 vCPU from exec to the runtime's first /next")
    assert str(fidelity["cpu"]).startswith("cfs-quota (0.072 vCPU")


def test_the_allowance_is_configurable_and_can_be_turned_off(code: Path) -> None:
    assert quotas(code, 128, "memory")[0] == {"during_init": 1447, "after": 1447}
    assert quotas(code, 256, "0.5")[0] == {"during_init": 10000, "after": 2894}
    assert quotas(code, 3008, "1")[0] == {"during_init": 34007, "after": 34007}  # never below the memory's
