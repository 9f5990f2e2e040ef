"""A burst against `coldlab serve`: N simultaneous invokes of an idle function (examples/hello-go).

The first burst hits a function with no environment: every request that finds none idle starts one (a cold
start). Each invoke asks for the log tail (X-Amz-Log-Type: Tail); its REPORT line's Init Duration says it was
a cold start and how long init took. Printed: the time until all N are answered, the per-request round trip
p50/p99, the cold starts counted from the REPORT lines and by the server, Init Duration p50/p99, throttles.
Then the same burst again once every environment is idle (frozen): warm reuse should start none.
Never fails on time.

    .venv/bin/python benchmarks/serve_burst.py [--burst 50] [--memory 128]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from serve_latency import Serve, build_hello, function_status, pct

INIT_DURATION = re.compile(r"REPORT RequestId: .*Init Duration: ([0-9.]+) ms")


@dataclass(frozen=True)
class Answer:
    status: int
    round_trip_ms: float
    init_ms: float | None  # from the REPORT line of the log tail; None for a warm invoke


async def one(session: aiohttp.ClientSession, url: str, start: asyncio.Event) -> Answer:
    await start.wait()  # every request leaves at once
    begun = time.perf_counter()
    async with session.post(url, data=b'{"name":"burst"}', headers={"X-Amz-Log-Type": "Tail"}) as response:
        await response.read()
        elapsed = (time.perf_counter() - begun) * 1000
        tail = base64.b64decode(response.headers.get("X-Amz-Log-Result", "")).decode(errors="replace")
    found = INIT_DURATION.search(tail)
    return Answer(response.status, elapsed, float(found.group(1)) if found else None)


async def burst(base: str, n: int) -> tuple[float, list[Answer]]:
    url = f"{base}/2015-03-31/functions/hello-go/invocations"
    connector = aiohttp.TCPConnector(limit=0)  # one connection per request: all N really in flight
    async with aiohttp.ClientSession(connector=connector) as session:
        start = asyncio.Event()
        tasks = [asyncio.create_task(one(session, url, start)) for _ in range(n)]
        await asyncio.sleep(0.1)  # let every task reach the gate
        begun = time.perf_counter()
        start.set()
        answers = await asyncio.gather(*tasks)
        return (time.perf_counter() - begun) * 1000, list(answers)


def report(label: str, wall_ms: float, answers: list[Answer], server_cold: int) -> None:
    ok = [a for a in answers if a.status == 200]
    throttled = sum(a.status == 429 for a in answers)
    inits = [a.init_ms for a in answers if a.init_ms is not None]
    trips = [a.round_trip_ms for a in ok]
    print(f"{label}: {len(answers)} simultaneous invokes, all answered after {wall_ms:8.1f} ms")
    print(
        f"  answered 200: {len(ok)}, throttled 429: {throttled}, other: {len(answers) - len(ok) - throttled}"
    )
    if trips:
        print(f"  round trip per request  p50={pct(trips, 0.5):8.2f} ms  p99={pct(trips, 0.99):8.2f} ms")
    print(f"  cold starts: {len(inits)} from REPORT Init Duration, {server_cold} counted by the server")
    if inits:
        print(f"  Init Duration           p50={pct(inits, 0.5):8.2f} ms  p99={pct(inits, 0.99):8.2f} ms")


def wait_all_idle(serve: Serve, timeout_s: float = 60.0) -> int:
    """Poll the status until no environment is busy or initializing; how many environments there are."""
    deadline = time.monotonic() + timeout_s
    while True:
        envs = function_status(serve.status(), "hello-go")["environments"]
        if all(env["state"] not in ("busy", "initializing") for env in envs) or time.monotonic() > deadline:
            return len(envs)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--max-concurrency", type=int, default=None)
    args = parser.parse_args()
    limit = ["--max-concurrency", str(args.max_concurrency)] if args.max_concurrency else []
    with tempfile.TemporaryDirectory(prefix="coldlab-bench-") as tmp:
        bootstrap = build_hello(Path(tmp))
        serve = Serve(str(bootstrap.parent), "--memory", str(args.memory), *limit)
        try:
            print(f"hello-go, {args.memory} MB, burst of {args.burst}, 2 cores shared with everything else\n")
            wall, answers = asyncio.run(burst(serve.url, args.burst))
            cold_after_first = function_status(serve.status(), "hello-go")["counts"]["cold_starts"]
            report("idle function (no environment)", wall, answers, cold_after_first)
            environments = wait_all_idle(serve)
            print(f"  environments afterwards: {environments}\n")
            wall, answers = asyncio.run(burst(serve.url, args.burst))
            cold_total = function_status(serve.status(), "hello-go")["counts"]["cold_starts"]
            report(
                "same burst again (environments idle, frozen)", wall, answers, cold_total - cold_after_first
            )
        finally:
            serve.stop()
        print(
            "\nload average (1, 5, 15 min): {:.2f} {:.2f} {:.2f} on {} cores".format(
                *os.getloadavg(), os.cpu_count()
            )
        )


if __name__ == "__main__":
    main()
