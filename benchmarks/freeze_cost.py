"""What does freezing cost? Prints figures; never fails on time. Target: freeze+thaw adds <= 0.2 ms to a warm
invoke.

1. Raw freeze+thaw latency of every host this machine offers (cgroup v1 freezer, cgroup v2 cgroup.freeze,
   SIGSTOP/SIGCONT), on an idle process and on an idle Go bootstrap (threads parked in futex/epoll), i.e. the
   state a function is in when frozen.
2. The warm-invoke delta through the execution environment: hello-go warm invokes with the real freeze/thaw vs
   the same host with freeze/thaw turned into no-ops, interleaved in blocks so machine load hits both alike.

Usage: .venv/bin/python benchmarks/freeze_cost.py [--cycles 300] [--invokes 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from coldlab import gotool
from coldlab.config import FunctionConfig
from coldlab.errors import ColdlabError
from coldlab.platform import Environment
from coldlab.sandbox import CgroupV1Host, CgroupV2Host, Host, Limits, SignalHost

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def summary(samples_ms: Sequence[float]) -> str:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):7.3f} ms   p99 {p99:7.3f} ms   (n={len(ordered)})"


def hosts() -> list[tuple[str, Callable[[], Host]]]:
    made: list[tuple[str, Callable[[], Host]]] = [
        ("cgroup-v1 freezer", lambda: CgroupV1Host(isolate=False)),
        ("cgroup-v2 cgroup.freeze", lambda: CgroupV2Host(_v2_root(), isolate=False)),
        ("SIGSTOP/SIGCONT", lambda: SignalHost("benchmark")),
    ]
    return made


def _v2_root() -> Path:
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        if (root / "cgroup.controllers").exists():
            return root
    return Path("/sys/fs/cgroup")


async def raw_cycles(host: Host, argv: list[str], env: Mapping[str, str], cycles: int) -> list[float]:
    sandbox = await host.spawn(argv, env, Path("/"), Limits(1769), 2)
    await asyncio.sleep(0.2)  # let it settle into its idle state
    samples = []
    try:
        for _ in range(cycles):
            start = time.perf_counter()
            sandbox.freeze()
            sandbox.thaw()
            samples.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.001)
    finally:
        sandbox.close()
        await sandbox.process.wait()
    return samples


class NoFreeze:
    """The same host, but freeze and thaw do nothing: the baseline for the warm-invoke delta."""

    def __init__(self, inner: Host) -> None:
        self.inner = inner
        self.name = f"{inner.name}-no-freeze"

    def fidelity(self, limits: Limits) -> Any:
        return self.inner.fidelity(limits)

    async def prepare(self, *args: Any, **kwargs: Any) -> Any:
        prepared = await self.inner.prepare(*args, **kwargs)
        prepared.sandbox.freeze = lambda: None  # type: ignore[attr-defined]
        prepared.sandbox.thaw = lambda: None  # type: ignore[attr-defined]
        return prepared


async def warm_invokes(code: Path, host: Any, count: int) -> list[float]:
    config = FunctionConfig.create(code, memory_mb=1769)
    samples = []
    async with Environment(config, host=host) as env:
        await env.invoke(b"{}")  # cold
        for _ in range(count):
            await asyncio.sleep(0.002)  # as a caller would: the freeze (scheduled after the answer) runs
            start = time.perf_counter()
            await env.invoke(b"{}")
            samples.append((time.perf_counter() - start) * 1000)
    return samples


async def main(cycles: int, invokes: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="coldlab-freeze-"))
    hello = gotool.build(gotool.GoBuild(package_dir=EXAMPLES / "hello-go"), work / "hello" / "bootstrap")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n")
    print("1. raw freeze+thaw latency (one cycle = freeze, wait until frozen, thaw, wait until thawed)")
    # hello-go waits forever in its first GET /next on a listener that never answers: an idle Go process.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    go_idle = ([str(hello)], {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{silent.getsockname()[1]}"})
    for label, make in hosts():
        try:
            host = make()
        except ColdlabError as exc:
            print(f"   {label:26s} unavailable: {exc}")
            continue
        for what, (argv, env) in (("idle sleep", (["/bin/sleep", "60"], {})), ("idle Go", go_idle)):
            samples = await raw_cycles(host, argv, env, cycles)
            print(f"   {label:26s} {what:10s} {summary(samples)}")
        close = getattr(host, "close", None)
        if close:
            close()
    print("\n2. warm invoke of hello-go at 1769 MB through the environment, with vs without freeze/thaw")
    try:
        real: Host = CgroupV1Host(isolate=False)
    except ColdlabError as exc:
        print(f"   cgroup v1 unavailable ({exc}); using the SIGSTOP host")
        real = SignalHost("benchmark")
    with_freeze: list[float] = []
    without: list[float] = []
    block = max(1, invokes // 6)
    for _ in range(6):  # interleaved blocks: load from other processes lands on both
        with_freeze += await warm_invokes(hello.parent, real, block)
        without += await warm_invokes(hello.parent, NoFreeze(real), block)
    print(f"   with freeze/thaw    {summary(with_freeze)}")
    print(f"   without             {summary(without)}")
    delta = statistics.median(with_freeze) - statistics.median(without)
    print(f"   delta of medians    {delta:+.3f} ms   (target <= 0.2 ms; host {real.name})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--invokes", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.cycles, args.invokes))
