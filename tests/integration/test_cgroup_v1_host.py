"""The cgroup v1 host with real processes: freeze, CPU quota placement, memory limit, isolation, cleanup."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coldlab.sandbox import cgroupfs
from coldlab.sandbox.cgroup_v1 import ANCHOR, CgroupV1Host, CgroupV1Sandbox
from coldlab.sandbox.host import Limits
from support.cgroups import ROOT, v1_unavailable
from support.runtime_scripts import gone, pid_alive

MB = 1024 * 1024


pytestmark = [pytest.mark.cgroup, pytest.mark.skipif(v1_unavailable() is not None, reason=str(v1_unavailable()))]


@pytest.fixture(scope="module")
def host() -> Iterator[CgroupV1Host]:
    made = CgroupV1Host()
    yield made
    made.close()


def spawn(host: CgroupV1Host, script: str, limits: Limits, cwd: Path = Path("/")) -> tuple[CgroupV1Sandbox, int]:
    """Run `sh -c script` in a sandbox; returns it and the read end of its output pipe."""
    read_fd, write_fd = os.pipe()

    async def go() -> CgroupV1Sandbox:
        return await host.spawn(["/bin/sh", "-c", script], {"PATH": "/usr/bin:/bin"}, cwd, limits, write_fd)

    loop = asyncio.new_event_loop()
    try:
        sandbox = loop.run_until_complete(go())
    finally:
        os.close(write_fd)
    sandbox._test_loop = loop  # type: ignore[attr-defined]
    return sandbox, read_fd


def wait(sandbox: CgroupV1Sandbox, read_fd: int, timeout: float = 30) -> tuple[int, str]:
    loop: asyncio.AbstractEventLoop = sandbox._test_loop  # type: ignore[attr-defined]
    code = loop.run_until_complete(asyncio.wait_for(sandbox.process.wait(), timeout))
    chunks = []
    while data := os.read(read_fd, 65536):
        chunks.append(data)
    os.close(read_fd)
    return code, b"".join(chunks).decode()


def finish(sandbox: CgroupV1Sandbox, read_fd: int) -> tuple[int, str]:
    sandbox.close()
    result = wait(sandbox, read_fd)
    sandbox._test_loop.close()  # type: ignore[attr-defined]
    return result


def read_until(read_fd: int, marker: str, timeout: float = 20) -> str:
    """Read the sandbox's output until `marker` and the end of its line have arrived."""
    text, deadline = "", time.monotonic() + timeout
    while marker not in text or not text.endswith("\n"):
        assert time.monotonic() < deadline, text
        text += os.read(read_fd, 4096).decode()
    return text


def test_freeze_stops_the_whole_process_tree_and_thaw_resumes_it(host: CgroupV1Host) -> None:
    # A shell with a busy child: both must stop (the cgroup's CPU time stays put while frozen).
    sandbox, out = spawn(host, "(while :; do :; done) & while :; do :; done", Limits(1769))
    time.sleep(0.2)
    sandbox.freeze()
    assert (sandbox.cgroup_dirs["freezer"] / "freezer.state").read_text().strip() == "FROZEN"
    frozen_at = sandbox.cpu_time_ns()
    time.sleep(0.3)
    assert sandbox.cpu_time_ns() == frozen_at
    sandbox.thaw()
    time.sleep(0.2)
    assert sandbox.cpu_time_ns() > frozen_at
    pids = cgroupfs.pids_in(sandbox.cgroup_dirs["freezer"])
    assert len(pids) == 2
    code, _ = finish(sandbox, out)
    assert code == -signal.SIGKILL
    assert gone(pids)
    assert not any(d.exists() for d in sandbox.cgroup_dirs.values())


def test_an_empty_frozen_anchor_keeps_every_later_freeze_and_thaw_off_the_kernel_s_slow_path() -> None:
    """Linux >= 6.1 patches kernel text (on every CPU) when the count of freezing v1 cgroups goes 0 <-> 1:
    with the host's anchor frozen for as long as it lives, no sandbox freeze or thaw is ever that 0 <-> 1."""
    made = CgroupV1Host()
    anchor = made.parents["freezer"] / made.run / ANCHOR
    assert not anchor.exists()  # made with the first sandbox, not for a host that never runs one
    sandbox, out = spawn(made, "sleep 30", Limits(1769))
    assert made.anchored
    assert (anchor / "freezer.state").read_text().strip() == "FROZEN"
    assert (anchor / "cgroup.procs").read_text() == ""  # empty: nothing of any function is in it
    for _ in range(3):  # the sandbox's own freezes and thaws are unaffected
        sandbox.freeze()
        assert (sandbox.cgroup_dirs["freezer"] / "freezer.state").read_text().strip() == "FROZEN"
        sandbox.thaw()
        assert (sandbox.cgroup_dirs["freezer"] / "freezer.state").read_text().strip() == "THAWED"
    finish(sandbox, out)
    made.close()
    assert not anchor.exists()
    assert not (made.parents["freezer"] / made.run).exists()


@pytest.mark.parametrize("visibility", ["parent", "leaf"])
def test_cpu_quota_sits_on_the_parent_or_the_leaf(host: CgroupV1Host, visibility: str) -> None:
    sandbox, out = spawn(host, "cat /proc/self/cgroup; exec sleep 30", Limits(256, cpu_visibility=visibility))
    text = read_until(out, "cpu:")
    cpu_dir = sandbox.cgroup_dirs["cpu"]
    parent = int((cpu_dir / "cpu.cfs_quota_us").read_text())
    leaf = int((cpu_dir / "fn" / "cpu.cfs_quota_us").read_text())
    period = int((cpu_dir / ("fn" if visibility == "leaf" else "") / "cpu.cfs_period_us").read_text())
    code, _ = finish(sandbox, out)
    own = next(line.split(":", 2)[2] for line in text.splitlines() if line.split(":")[1] == "cpu")
    quota = 256 * period // 1769
    assert own.endswith("/fn")  # the function lives in the leaf...
    if visibility == "parent":  # ...and sees no quota there, as on Lambda
        assert (parent, leaf) == (quota, -1)
    else:
        assert (parent, leaf) == (-1, quota)
    assert code == -signal.SIGKILL


def test_memory_limit_kills_the_environment_and_peak_is_the_limit(host: CgroupV1Host) -> None:
    # A child touches memory until the kernel OOM-kills it; the whole sandbox (the shell waiting on `sleep`
    # too) is then SIGKILLed, as Lambda resets the environment; the peak equals the limit.
    hog = "python3 -c 'b=[]\nwhile True: b.append(bytearray(1<<20))'"
    sandbox, out = spawn(host, f"{hog} & sleep 60", Limits(128))
    code, _ = wait(sandbox, out, timeout=20)
    peak = sandbox.peak_memory_bytes()
    memsw = sandbox.cgroup_dirs["memory"] / "memory.memsw.limit_in_bytes"
    swap_limit = int(memsw.read_text()) if memsw.exists() else 128 * MB
    swappiness = int((sandbox.cgroup_dirs["memory"] / "memory.swappiness").read_text())
    sandbox.close()
    sandbox._test_loop.close()  # type: ignore[attr-defined]
    assert code == -signal.SIGKILL
    assert sandbox.oom_killed
    assert peak == 128 * MB
    assert swap_limit == 128 * MB
    assert swappiness == 0


def test_function_runs_unprivileged_with_its_own_tmp_and_read_only_code(
    host: CgroupV1Host, tmp_path: Path
) -> None:
    if host.user is None:
        pytest.skip("isolation needs root")
    code_dir = tmp_path / "code"  # a 0700 temp dir, as pytest makes them: /var/task must still work
    code_dir.mkdir(mode=0o700)
    (code_dir / "bootstrap").write_text("#!/bin/sh\necho hi\n")
    (code_dir / "bootstrap").chmod(0o755)
    (tmp_path / "outside").write_text("host /tmp must be hidden")
    script = textwrap.dedent(
        f"""
        id -u; pwd; echo "root=$LAMBDA_TASK_ROOT"
        ulimit -n
        cat /var/task/bootstrap | head -1
        touch /var/task/new 2>/dev/null && echo code-writable || echo code-read-only
        ls {tmp_path}/outside 2>/dev/null && echo host-tmp-visible || echo host-tmp-hidden
        ls /root 2>/dev/null && echo root-visible || echo root-hidden
        dd if=/dev/zero of=/tmp/fill bs=1M count=700 2>/dev/null; echo "tmp-full-at=$(du -m /tmp/fill | cut -f1)"
        """
    )
    sandbox, out = spawn(host, script, Limits(1024, ephemeral_storage_mb=600), cwd=code_dir)
    pids_max = (sandbox.cgroup_dirs["pids"] / "pids.max").read_text().strip()
    code, text = wait(sandbox, out)
    sandbox.close()
    sandbox._test_loop.close()  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert code == 0, text
    assert lines[0] == str(host.user.uid) and lines[0] != "0"
    assert lines[1] == "/var/task"
    assert lines[3] == "1024"
    assert lines[4] == "#!/bin/sh"
    assert "code-read-only" in lines
    assert "host-tmp-hidden" in lines
    assert "root-hidden" in lines
    assert "tmp-full-at=600" in lines  # the tmpfs is exactly --ephemeral-storage
    assert pids_max == "1024"
    assert not (tmp_path / "fill").exists()


def test_lambda_task_root_and_argv_are_relocated_to_var_task(host: CgroupV1Host, tmp_path: Path) -> None:
    if host.user is None:
        pytest.skip("isolation needs root")
    (tmp_path / "bootstrap").write_text('#!/bin/sh\necho "$0 $LAMBDA_TASK_ROOT $(pwd)"\n')
    (tmp_path / "bootstrap").chmod(0o755)
    read_fd, write_fd = os.pipe()

    async def go() -> tuple[int, CgroupV1Sandbox]:
        sandbox = await host.spawn(
            [str(tmp_path / "bootstrap")], {"LAMBDA_TASK_ROOT": str(tmp_path)}, tmp_path, Limits(128), write_fd
        )
        os.close(write_fd)
        code = await sandbox.process.wait()
        sandbox.close()
        return code, sandbox

    code, _ = asyncio.run(go())
    text = os.read(read_fd, 4096).decode()
    os.close(read_fd)
    assert code == 0
    assert text.strip() == "/var/task/bootstrap /var/task /var/task"


def test_stale_run_of_a_killed_coldlab_is_removed_with_its_processes(tmp_path: Path) -> None:
    # coldlab is SIGKILLed between invocations, its function frozen: the function cannot even die of
    # PR_SET_PDEATHSIG while frozen, and the run directory stays. The next host thaws, kills and removes it.
    script = tmp_path / "victim.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, os, signal, sys
            from pathlib import Path
            from coldlab.sandbox.cgroup_v1 import CgroupV1Host
            from coldlab.sandbox.host import Limits

            async def main():
                host = CgroupV1Host()
                sandbox = await host.spawn(["/bin/sleep", "60"], {}, Path("/"), Limits(128), 2)
                sandbox.freeze()
                print(host.run, sandbox.process.pid, flush=True)
                sys.stdin.readline()
                os.kill(os.getpid(), signal.SIGKILL)

            asyncio.run(main())
            """
        )
    )
    victim = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert victim.stdout is not None and victim.stdin is not None
    run, child = victim.stdout.readline().split()
    run_dirs = [ROOT / c / "coldlab" / run for c in ("cpu", "memory", "freezer")]
    assert all(d.is_dir() for d in run_dirs)
    victim.stdin.write("go\n")
    victim.stdin.flush()
    assert victim.wait(10) == -signal.SIGKILL
    time.sleep(0.2)
    assert pid_alive(int(child))  # frozen: the parent-death SIGKILL waits for a thaw that never comes
    assert all(d.is_dir() for d in run_dirs)
    fresh = CgroupV1Host(isolate=False)
    assert run in fresh.stale_removed  # the next coldlab thaws, kills and removes it
    assert not any(d.exists() for d in run_dirs)
    assert gone([int(child)])
    fresh.close()


def test_ctrl_c_leaves_no_process_and_no_cgroup(tmp_path: Path) -> None:
    script = tmp_path / "interrupted.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from pathlib import Path
            from coldlab.sandbox.cgroup_v1 import CgroupV1Host
            from coldlab.sandbox.host import Limits

            async def main():
                host = CgroupV1Host(isolate=False)
                sandbox = await host.spawn(["/bin/sh", "-c", "sleep 60 & sleep 60"], {}, Path("/"), Limits(128), 2)
                await asyncio.sleep(0.1)
                print(host.run, *sandbox_pids(sandbox), flush=True)
                await asyncio.sleep(60)

            def sandbox_pids(sandbox):
                return Path(sandbox.cgroup_dirs["freezer"], "cgroup.procs").read_text().split()

            asyncio.run(main())
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run, *pids = proc.stdout.readline().split()
    assert len(pids) == 3  # sh and its two sleeps
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    assert gone([int(p) for p in pids])
    assert not any((ROOT / c / "coldlab" / run).exists() for c in ("cpu", "memory", "freezer", "pids"))


def test_cpu_bound_go_work_scales_with_memory(host: CgroupV1Host, go_build: object) -> None:
    """Real durations: 256 MB takes about 6.9x and 128 MB about 13.8x the 1769 MB time."""
    bootstrap = go_build("gomaxprocs-go")  # type: ignore[operator]
    event = json.dumps({"work": "spin", "units": 80})

    def run(memory_mb: int) -> dict[str, float]:
        read_fd, write_fd = os.pipe()

        async def go() -> tuple[CgroupV1Sandbox, int]:
            sandbox = await host.spawn([str(bootstrap), event], {}, bootstrap.parent, Limits(memory_mb), write_fd)
            os.close(write_fd)
            return sandbox, await sandbox.process.wait()

        sandbox, code = asyncio.run(go())
        sandbox.close()
        reply: dict[str, float] = json.loads(os.read(read_fd, 65536).decode().strip().splitlines()[-1])
        os.close(read_fd)
        assert code == 0
        return reply

    base, base_cpu = one_vcpu_ms(run)
    for memory_mb in (256, 128):
        reply = run(memory_mb)
        took, cpu_ms = reply["elapsed_ms"], reply["cpu_ms"]
        ideal = 1769 / memory_mb
        detail = (memory_mb, took, cpu_ms, base, base_cpu)
        # Per CPU-millisecond used, within 15% (the quota's doing). The raw ratio is not asserted: short
        # slices at a small quota start with caches other processes cooled, costing the work 15-30% more CPU
        # (measured: 107 ms against 81 at a full core), which the per-CPU ratio takes out.
        assert ideal * 0.85 <= (took / base) / (cpu_ms / base_cpu) <= ideal * 1.15, detail


def one_vcpu_ms(run: Callable[[int], dict[str, float]]) -> tuple[float, float]:
    """The work's wall and CPU time at 1769 MB (one full vCPU). Other tests on this 2-core machine can take
    part of that core; then the wall time exceeds the CPU time, which at one vCPU is what it would take."""
    best = min((run(1769) for _ in range(3)), key=lambda reply: reply["elapsed_ms"])
    if best["elapsed_ms"] <= best["cpu_ms"] * 1.05:
        return best["elapsed_ms"], best["cpu_ms"]
    return best["cpu_ms"], best["cpu_ms"]  # contended: uncontended wall time at one vCPU = CPU time used
