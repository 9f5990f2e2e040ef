"""Max Memory Used: the larger of what the memory cgroup charged and the bootstrap's resident high-water mark.

The host's page cache usually holds the bootstrap already (it was just built or copied), so the cgroup is never
charged for its pages; on Lambda each sandbox reads its code afresh and they count. VmHWM counts them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from coldlab.sandbox.cgroup_v1 import CgroupV1Host, CgroupV1Sandbox
from support.cgroups import v1_unavailable
from support.runtime_scripts import GoBuilder

pytestmark = [pytest.mark.cgroup, pytest.mark.skipif(v1_unavailable() is not None, reason=str(v1_unavailable()))]
MB = 1024 * 1024


def vm_hwm_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_max_memory_used_counts_the_binary_pages_the_cgroup_was_not_charged_for(go_build: GoBuilder) -> None:
    code = go_build("hello-go").parent
    host = CgroupV1Host()

    async def scenario() -> tuple[int, int, int]:
        async with Environment(FunctionConfig.create(code, memory_mb=256), host=host) as env:
            result = await env.invoke(b"{}")
            assert env.pid is not None and isinstance(env._sandbox, CgroupV1Sandbox)
            charged = int((env._sandbox.cgroup_dirs["memory"] / "memory.max_usage_in_bytes").read_text())
            return result.max_memory_used_mb, vm_hwm_bytes(env.pid), charged

    used_mb, resident, charged = asyncio.run(scenario())
    host.close()
    assert resident > charged  # the premise: the binary's pages were cached before the sandbox existed
    assert used_mb >= resident // MB
    assert used_mb <= 256
