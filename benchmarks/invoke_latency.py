"""Warm and cold invoke latency of coldlab's execution environment, on examples/hello-go.

Prints warm round-trip p50/p99 over N invokes (invoke accepted → the runtime's answer, a thaw before it and a
freeze after it in every invoke, as on Lambda), the whole warm cycle (accepted → runtime back on /next and
frozen), and for
cold invokes the platform's own overhead (invoke accepted → bootstrap exec'd) separately from the function's
init (exec → first /next): with the sandbox prepared before the invoke (coldlab's default, as Lambda keeps
sandboxes ready) and with the sandbox made on the invoke's path (cgroups, zygote fork, mounts, user switch).
Baseline in the same run: a bare HTTP round trip on loopback with aiohttp. The warm loop counts the freezes:
after every invoke (outside the timed span) it reads the sandbox's freezer state from the kernel and counts
it when it says FROZEN, beside the environment's own freeze counter.
Targets (issue 2): warm p50 <= 1 ms, p99 <= 3 ms; platform cold overhead <= 5 ms. Never fails on time.

    .venv/bin/python benchmarks/invoke_latency.py [--warm 2000] [--cold 30] [--memory 1769]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from coldlab import gotool
from coldlab.config import FunctionConfig
from coldlab.platform import Environment

REPO = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def show(label: str, values: list[float]) -> None:
    print(
        f"{label:<54} n={len(values):<5} p50={pct(values, 0.5):7.3f} ms  p99={pct(values, 0.99):7.3f} ms  "
        f"mean={statistics.fmean(values):7.3f} ms"
    )


async def loopback_baseline(n: int) -> list[float]:
    """One aiohttp request/response on 127.0.0.1: the floor under any HTTP-based Runtime API."""
    app = web.Application()
    app.router.add_get("/", lambda _request: web.Response(text="ok"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            start = time.perf_counter()
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                await response.read()
            times.append((time.perf_counter() - start) * 1000)
    await runner.cleanup()
    return times


def freezer_state(env: Environment) -> str:
    """What the kernel says of the sandbox's freezer cgroup ("" where there is none: another host)."""
    dirs = getattr(env._sandbox, "cgroup_dirs", {})
    state = Path(dirs["freezer"]) / "freezer.state" if "freezer" in dirs else None
    return state.read_text().strip() if state is not None else ""


async def measure(code: Path, memory: int, warm: int, cold: int) -> None:
    config = FunctionConfig.create(code, memory_mb=memory)
    warm_times, cycle_times, durations = [], [], []
    frozen_seen = 0
    async with Environment(config) as env:
        print(f"fidelity: {env.fidelity.as_dict()}")
        await env.invoke(b"{}")
        counted = env.freezes
        answered: list[float] = []
        for _ in range(warm):
            start = time.perf_counter()
            result = await env.invoke(
                b'{"name":"bench"}', on_response=lambda _outcome: answered.append(time.perf_counter())
            )
            cycle_times.append((time.perf_counter() - start) * 1000)
            warm_times.append((answered[-1] - start) * 1000)
            durations.append(result.duration_ms)
            frozen_seen += freezer_state(env) == "FROZEN"
        freezes = env.freezes - counted
    show("warm round trip (accepted -> answer, thaw included)", warm_times)
    show("warm invoke cycle (accepted -> frozen again)", cycle_times)
    show("warm REPORT Duration", durations)
    print(f"freezes in the warm loop: {freezes} by the environment, {frozen_seen} seen FROZEN in the kernel, "
          f"of {warm} invokes")
    overheads = {}
    for prepared in (True, False):
        platform, to_next, init, cold_total = [], [], [], []
        for _ in range(cold):
            async with Environment(config, prepare_sandbox=prepared) as env:
                await asyncio.sleep(0.05)  # an idle gap, as between real cold starts
                start = time.perf_counter()
                result = await env.invoke(b"{}")
                cold_total.append((time.perf_counter() - start) * 1000)
                assert result.phases is not None
                platform.append(result.phases.platform_ms)
                to_next.append(result.phases.platform_ms + result.phases.init_ms)
                init.append(result.phases.init_ms)
        how = "prepared" if prepared else "on path"
        show(f"cold ({how}): platform overhead (accepted -> exec)", platform)
        show(f"cold ({how}): accepted -> first /next", to_next)
        show(f"cold ({how}): function init (exec -> first /next)", init)
        show(f"cold ({how}): whole invoke", cold_total)
        overheads[how] = pct(platform, 0.5)
    print(f"targets: warm p50 {pct(warm_times, 0.5):.3f} ms <= 1 ms {verdict(pct(warm_times, 0.5) <= 1)}; "
          f"warm p99 {pct(warm_times, 0.99):.3f} ms <= 3 ms {verdict(pct(warm_times, 0.99) <= 3)}; "
          f"cold platform overhead p50 {overheads['prepared']:.3f} ms <= 5 ms "
          f"{verdict(overheads['prepared'] <= 5)} (on path: {overheads['on path']:.3f} ms)")
    baseline = await loopback_baseline(max(200, warm // 4))
    show("baseline: one aiohttp GET on loopback", baseline)
    print(f"warm p50 / baseline p50 = {pct(warm_times, 0.5) / pct(baseline, 0.5):.2f}x "
          "(a warm invoke is 3 HTTP exchanges: /next reply, /response, /next)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--cold", type=int, default=30)
    parser.add_argument("--memory", type=int, default=1769)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = gotool.build(gotool.GoBuild(REPO / "examples" / "hello-go"), Path(tmp) / "bootstrap")
        asyncio.run(measure(binary.parent, args.memory, args.warm, args.cold))


if __name__ == "__main__":
    main()
