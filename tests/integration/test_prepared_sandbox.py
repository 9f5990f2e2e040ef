"""The next sandbox is made before the invoke that needs it: cgroups joined, mounts made, user switched, the
process waiting to exec. A cold start then only execs; nothing of the function runs before the invoke."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from coldlab.config import FunctionConfig
from coldlab.platform import Environment
from coldlab.sandbox.cgroup_v1 import CgroupV1Host, CgroupV1Sandbox
from coldlab.sandbox.host import Limits
from support.cgroups import v1_unavailable
from support.runtime_scripts import GoBuilder, gone, pid_alive

MB = 1024 * 1024


pytestmark = [pytest.mark.cgroup, pytest.mark.skipif(v1_unavailable() is not None, reason=str(v1_unavailable()))]


@pytest.fixture(scope="module")
def host() -> Iterator[CgroupV1Host]:
    made = CgroupV1Host()
    yield made
    made.close()


@pytest.fixture
def hello(go_build: GoBuilder) -> FunctionConfig:
    return FunctionConfig.create(go_build("hello-go").parent, memory_mb=256)


def exe_of(pid: int) -> str:
    return str(Path(f"/proc/{pid}/exe").readlink())


def uid_of(pid: int) -> int:
    return Path(f"/proc/{pid}").stat().st_uid


def prepared_sandbox(env: Environment) -> CgroupV1Sandbox:
    """The sandbox waiting for the next cold start (the test looks inside the environment)."""
    task = env._spare.pending
    assert task is not None and task.done()
    sandbox = task.result().sandbox.sandbox
    assert isinstance(sandbox, CgroupV1Sandbox)
    return sandbox


def test_start_prepares_a_sandbox_whose_process_waits_to_exec(host: CgroupV1Host, hello: FunctionConfig) -> None:

    async def scenario() -> None:
        async with Environment(hello, host=host) as env:
            sandbox = prepared_sandbox(env)
            pid = sandbox.process.pid
            # Set up already: in the environment's cgroups, as the function user, but not the bootstrap yet.
            assert str(pid) in (sandbox.cgroup_dirs["freezer"] / "cgroup.procs").read_text().split()
            assert str(pid) in (sandbox.cgroup_dirs["cpu"] / "fn" / "cgroup.procs").read_text().split()
            assert host.user is not None and uid_of(pid) == host.user.uid
            assert not exe_of(pid).endswith("bootstrap")
            result = await env.invoke(b'{"name":"prepared"}')
            assert result.ok and result.init_duration_ms is not None
            assert env.pid == pid  # the prepared process is the one that became the bootstrap
            assert exe_of(pid).endswith("/bootstrap")
            assert env._spare.pending is None  # a warm environment needs no spare

    asyncio.run(scenario())


def test_a_crash_has_the_next_sandbox_prepared_and_close_discards_it(
    host: CgroupV1Host, hello: FunctionConfig
) -> None:
    async def scenario() -> tuple[int, list[Path]]:
        async with Environment(hello, host=host) as env:
            crashed = await env.invoke(b'{"crash":true}')
            assert crashed.error_type == "Runtime.ExitError"
            await env._spare.ready()
            spare = prepared_sandbox(env)
            pid, dirs = spare.process.pid, list(spare.cgroup_dirs.values())
            assert pid_alive(pid)
        return pid, dirs  # closed: the spare was never used

    pid, dirs = asyncio.run(scenario())
    assert gone([pid])  # killed at once; gone once the zygote has reaped it
    assert not any(directory.exists() for directory in dirs)


def test_without_preparation_the_sandbox_is_made_at_the_invoke(
    host: CgroupV1Host, hello: FunctionConfig
) -> None:
    async def scenario() -> None:
        async with Environment(hello, host=host, prepare_sandbox=False) as env:
            assert env._spare.pending is None
            assert (await env.invoke(b"{}")).ok
            await env.invoke(b'{"crash":true}')
            assert env._spare.pending is None
            assert (await env.invoke(b"{}")).ok  # re-made on the invoke's path

    asyncio.run(scenario())


def test_memory_peak_counts_from_reset_not_from_what_came_before() -> None:
    """What the set-up before exec charged to the memory cgroup is not the function's: the peak is reset at exec.
    Shown with a process that touches 64 MB and frees it, then the reset."""
    host = CgroupV1Host(isolate=False)
    script = "import sys; b = bytearray(64 << 20); del b; print('freed', flush=True); sys.stdin.read()"
    read_fd, write_fd = os.pipe()

    async def scenario() -> tuple[int, int]:
        argv = ["/usr/bin/python3", "-c", script]
        sandbox = await host.spawn(argv, {"PATH": "/usr/bin:/bin"}, Path("/"), Limits(256), write_fd)
        os.close(write_fd)
        while b"freed" not in os.read(read_fd, 100):
            pass
        before = sandbox.peak_memory_bytes()
        sandbox.reset_peak()
        after = sandbox.peak_memory_bytes()
        sandbox.close()
        return before, after

    before, after = asyncio.run(scenario())
    os.close(read_fd)
    host.close()
    assert before >= 64 * MB
    assert after < 32 * MB


def test_bootstraps_die_with_the_zygote_and_the_next_spawn_starts_a_new_one() -> None:
    from coldlab.sandbox import spawner

    host = CgroupV1Host(isolate=False)

    async def scenario() -> tuple[int, int]:
        first = await host.spawn(["/bin/sleep", "60"], {}, Path("/"), Limits(128), 2)
        zygote = spawner.spawner()
        assert isinstance(zygote, spawner.ZygoteSpawner)
        os.kill(zygote._process.pid, signal.SIGKILL)
        code = await asyncio.wait_for(first.process.wait(), 10)
        first.close()
        second = await host.spawn(["/bin/true"], {}, Path("/"), Limits(128), 2)
        assert spawner.spawner() is not zygote
        second_code = await asyncio.wait_for(second.process.wait(), 10)
        second.close()
        return code, second_code

    code, second_code = asyncio.run(scenario())
    host.close()
    assert code == -signal.SIGKILL
    assert second_code == 0


def test_a_killed_coldlab_leaves_neither_its_bootstraps_nor_its_prepared_sandboxes(tmp_path: Path) -> None:
    script = tmp_path / "victim.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, os, signal
            from pathlib import Path
            from coldlab.sandbox.cgroup_v1 import CgroupV1Host
            from coldlab.sandbox.host import Limits

            async def main():
                host = CgroupV1Host(isolate=False)
                running = await host.spawn(["/bin/sleep", "60"], {}, Path("/"), Limits(128), 2)
                waiting = await host.prepare(["/bin/sleep", "60"], {}, Path("/"), Limits(128), 2)
                print(running.process.pid, waiting.sandbox.process.pid, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

            asyncio.run(main())
            """
        )
    )
    victim = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert victim.stdout is not None
    pids = [int(pid) for pid in victim.stdout.readline().split()]
    assert victim.wait(10) == -signal.SIGKILL
    assert gone(pids)  # the zygote saw its socket close, and took them along


def test_a_spare_that_died_with_its_zygote_is_replaced_at_the_invoke(
    host: CgroupV1Host, hello: FunctionConfig
) -> None:
    from coldlab.sandbox import spawner


    async def scenario() -> None:
        async with Environment(hello, host=host) as env:
            spare = prepared_sandbox(env)
            zygote = spawner.spawner()
            assert isinstance(zygote, spawner.ZygoteSpawner)
            os.kill(zygote.pid, signal.SIGKILL)
            await asyncio.wait_for(spare.process.wait(), 10)  # the spare died with it
            result = await env.invoke(b"{}")
            assert result.ok and result.init_duration_ms is not None
            assert env.pid != spare.process.pid

    asyncio.run(scenario())
