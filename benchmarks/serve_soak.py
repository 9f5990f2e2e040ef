"""Load and fault soak of `coldlab serve` (issue 13): 10,000 invokes at concurrency 32 across 3 functions.

examples/hello-go is served three times (soak-a, soak-b, soak-c; 128 MB, timeout 5 s). Of the invokes, 5%
are faults, a third each: `{"crash":true}` (Runtime.ExitError, exit status 3), `{"sleep_ms":6000}`
(Sandbox.Timedout) and `{"size":400 MB}` (the response padding outgrows 128 MB: the cgroup's OOM kill,
Runtime.ExitError "signal: killed"); 10% are `InvocationType=Event`, drawn independently (so some Event
invokes fault too). Every other event is `{"name":"c<N>"}`, answered "hello, c<N>". Checked, and printed:

- every synchronous invoke is answered exactly once with the right payload or error: its own greeting
  (and the header's request id in the body), or the fault's errorType; the function ran it exactly once
  (hello-go logs `request_id=<id>` at the start of every invocation, and the server prints that line);
- every Event invoke is delivered at least once: its 202's request id shows up in the function's output
  (when the server gives one), with 1 + MaximumRetryAttempts runs for a faulting one when the server has
  event invoke configs (retries as configured), and its OnSuccess/OnFailure destination record if it has
  destinations; without request ids, only the counts can be compared;
- after SIGTERM no process or cgroup of the server is left (its run directory `coldlab/<pid>-*` in every
  cgroup hierarchy, and any process still in one);
- the server's RSS after all invokes is within 10% of its RSS after the first fifth (2,000 of 10,000).

Never fails on time; exit status 1 when an invariant is broken. tests/functional/test_serve_soak.py runs
500 invokes through the same `soak()`.

    .venv/bin/python benchmarks/serve_soak.py [--invokes 10000] [--concurrency 32] [--seed 13]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ("soak-a", "soak-b", "soak-c")
TIMEOUT_S = 5
OOM_BYTES = 400 * 1024 * 1024
EVENTS: dict[str, dict[str, Any]] = {
    "crash": {"crash": True},
    "timeout": {"sleep_ms": (TIMEOUT_S + 1) * 1000},
    "oom": {"size": OOM_BYTES},
}
EXPECTED_ERRORS = {  # kind -> the right answers: (errorType, a piece of errorMessage)
    "crash": (("Runtime.ExitError", "exit status 3"),),
    "timeout": (("Sandbox.Timedout", "Task timed out"),),
    # At its limit a v1 memory cgroup may reclaim page cache (the binary's pages) for seconds before the OOM
    # killer fires, so a loaded machine can reach the timeout first: also a right answer, still one answer.
    "oom": (("Runtime.ExitError", "signal: killed"), ("Sandbox.Timedout", "Task timed out")),
}
RETRIES = 2  # MaximumRetryAttempts, Lambda's default
RSS_TOLERANCE = 0.10
LISTENING = re.compile(r"^coldlab serve: listening on (http://\S+)$")
RAN = re.compile(r"^(\S+) \| cold_start=(?:true|false) request_id=(\S+)$")


@dataclass(frozen=True)
class Call:
    index: int
    function: str
    kind: str  # "ok" or a fault of EVENTS
    asynchronous: bool

    def event(self) -> bytes:
        return json.dumps(EVENTS.get(self.kind, {"name": f"c{self.index}"})).encode()


def plan(total: int, seed: int, fault_share: float = 0.05, async_share: float = 0.10) -> list[Call]:
    """`total` calls round-robin over the functions: exact fault and Event counts, shuffled by `seed`."""
    rng = random.Random(seed)
    faults = round(total * fault_share)
    kinds = ["crash", "timeout", "oom"] * (faults // 3 + 1)
    kinds = kinds[:faults] + ["ok"] * (total - faults)
    rng.shuffle(kinds)
    asynchronous = set(rng.sample(range(total), round(total * async_share)))
    return [Call(i, FUNCTIONS[i % len(FUNCTIONS)], kinds[i], i in asynchronous) for i in range(total)]


class Server:
    """`coldlab serve` as a child process; its stderr read as it comes (who ran what, and its own lines)."""

    def __init__(self, codes: list[Path], state: Path) -> None:
        cli = [sys.executable, "-c", "from coldlab.cli import main; main()", "serve"]
        options = subprocess.run([*cli, "--help"], capture_output=True, text=True, check=True).stdout
        self.durable = "--state-dir" in options
        extra = ["--state-dir", str(state), "--retry-delay-scale", "0.001"] if self.durable else []
        self.proc = subprocess.Popen(
            [*cli, *map(str, codes), "--port", "0", "--memory", "128", "--timeout", str(TIMEOUT_S),
             "--keep-alive", "3600", "--max-concurrency", "256", *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.pid = self.proc.pid
        self.ran: Counter[str] = Counter()  # request id -> times the function started it
        self.ran_by: Counter[str] = Counter()  # function -> invocations started
        self.lines: list[str] = []  # the server's own lines (not the functions' log)
        self.url = ""
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._ready.wait(120)
        if not self.url:
            self.stop()
            raise RuntimeError("coldlab serve did not start:\n" + "\n".join(self.lines[-20:]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.rstrip("\n")
            ran = RAN.match(line)
            if ran:
                self.ran[ran.group(2)] += 1
                self.ran_by[ran.group(1)] += 1
            elif line.startswith("coldlab") or " | " not in line:
                self.lines.append(line)
                listening = LISTENING.match(line)
                if listening:
                    self.url = listening.group(1)
                    self._ready.set()
        self._ready.set()

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(10)
        return code


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (the zygote, the bootstraps, their children), now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text[text.rfind(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def run_dirs(pid: int) -> list[str]:
    """The cgroup run directories of the coldlab process `pid`, in every hierarchy (v1, or v2 at the root)."""
    root = Path("/sys/fs/cgroup")
    return [str(p) for p in (*root.glob(f"*/coldlab/{pid}-*"), *root.glob(f"coldlab/{pid}-*"))]


def leftovers(pid: int, seen: set[int]) -> list[str]:
    """What the stopped server at `pid` left: its cgroup run directories, and live processes it ran."""
    left = run_dirs(pid)
    for other in seen:
        try:
            state = Path(f"/proc/{other}/stat").read_text()
        except OSError:
            continue
        if state[state.rfind(")") + 2] != "Z":
            left.append(f"process {other}")
    return left


@dataclass
class Tally:
    answered: Counter[str] = field(default_factory=Counter)  # "<kind>" (sync) or "event"
    problems: list[str] = field(default_factory=list)
    sync_ids: dict[str, Call] = field(default_factory=dict)
    event_ids: dict[str, Call] = field(default_factory=dict)
    events_without_id: int = 0
    rss_kb: dict[str, int] = field(default_factory=dict)
    seen_pids: set[int] = field(default_factory=set)
    seen_run_dirs: int = 0
    done: int = 0


def check_answer(call: Call, status: int, headers: Any, body: bytes, tally: Tally) -> None:
    request_id = headers.get("x-amzn-RequestId", "")
    if call.asynchronous:
        if status != 202:
            tally.problems.append(f"call {call.index} (Event): HTTP {status} {body[:200]!r}")
            return
        tally.answered["event"] += 1
        if request_id:
            tally.event_ids[request_id] = call
        else:
            tally.events_without_id += 1
        return
    if status != 200:
        tally.problems.append(f"call {call.index} ({call.kind}): HTTP {status} {body[:200]!r}")
        return
    if request_id in tally.sync_ids:
        tally.problems.append(f"call {call.index}: request id {request_id} answered twice")
    tally.sync_ids[request_id] = call
    answer = json.loads(body)
    error = headers.get("X-Amz-Function-Error")
    if call.kind == "ok":
        right = error is None and answer.get("message") == f"hello, c{call.index}"
        right = right and answer.get("request_id") == request_id
    else:
        right = error == "Unhandled" and any(
            answer.get("errorType") == error_type and message in answer.get("errorMessage", "")
            for error_type, message in EXPECTED_ERRORS[call.kind]
        )
    if right:
        tally.answered[call.kind] += 1
    else:
        tally.problems.append(f"call {call.index} ({call.kind}): wrong answer {error} {body[:300]!r}")


async def drive(server: Server, calls: list[Call], concurrency: int, checkpoint: int, tally: Tally) -> None:
    """`concurrency` clients on keep-alive connections, each sending the next call once answered."""
    queue = iter(calls)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout
    ) as session:

        async def client() -> None:
            for call in queue:
                url = f"{server.url}/2015-03-31/functions/{call.function}/invocations"
                headers = {"X-Amz-Invocation-Type": "Event"} if call.asynchronous else {}
                async with session.post(url, data=call.event(), headers=headers) as response:
                    body = await response.read()
                    check_answer(call, response.status, response.headers, body, tally)
                tally.done += 1
                if tally.done == checkpoint:
                    tally.rss_kb["early"] = server.rss_kb()
                    tally.seen_pids |= descendants(server.pid)
                    tally.seen_run_dirs = len(run_dirs(server.pid))

        await asyncio.gather(*(client() for _ in range(concurrency)))


def configure_events(server: Server, work: Path) -> dict[str, Path] | None:
    """Retries and file destinations per function, when the server has event invoke configs."""
    import urllib.error
    import urllib.request

    dirs = {"Success": work / "succeeded", "Failure": work / "failed"}
    for where in dirs.values():
        where.mkdir(parents=True, exist_ok=True)
    for name in FUNCTIONS:
        body = json.dumps({
            "MaximumRetryAttempts": RETRIES,
            "DestinationConfig": {
                "OnSuccess": {"Destination": f"file://{dirs['Success']}/"},
                "OnFailure": {"Destination": f"file://{dirs['Failure']}/"},
            },
        }).encode()  # fmt: skip
        request = urllib.request.Request(
            f"{server.url}/2019-09-25/functions/{name}/event-invoke-config", data=body, method="PUT"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.read()
            return None  # this server has no event invoke configs: one attempt, no destinations
    return dirs


def destination_records(dirs: dict[str, Path]) -> dict[str, list[dict[str, Any]]]:
    records: dict[str, list[dict[str, Any]]] = {}
    for where in dirs.values():
        for path in where.glob("*.json"):
            record = json.loads(path.read_text())
            records.setdefault(record["requestContext"]["requestId"], []).append(record)
    return records


def settle_events(server: Server, tally: Tally, dirs: dict[str, Path] | None, deadline_s: float) -> None:
    """Wait (a safety net, not a measurement) until every Event invoke ran as often as it must."""
    attempts = 1 + RETRIES if dirs is not None else 1
    deadline = time.monotonic() + deadline_s

    def missing() -> list[str]:
        if tally.events_without_id:  # no ids: all we have is how many runs no synchronous call explains
            unexplained = sum(n for rid, n in server.ran.items() if rid not in tally.sync_ids)
            short = tally.events_without_id - unexplained
            return [f"{short} Event invokes not run (counted)"] if short > 0 else []
        gone = []
        records = destination_records(dirs) if dirs is not None else {}
        for rid, call in tally.event_ids.items():
            want = 1 if call.kind == "ok" else attempts
            if server.ran[rid] < want:
                gone.append(f"Event call {call.index} ({call.kind}) ran {server.ran[rid]} of {want} times")
            elif dirs is not None and rid not in records:
                gone.append(f"Event call {call.index} ({call.kind}) has no destination record")
        return gone

    while (left := missing()) and time.monotonic() < deadline:
        time.sleep(0.5)
    tally.problems.extend(left[:20])
    if dirs is not None:
        records = destination_records(dirs)
        for rid, call in tally.event_ids.items():
            for record in records.get(rid, []):
                condition = record["requestContext"]["condition"]
                if condition != ("Success" if call.kind == "ok" else "RetriesExhausted"):
                    tally.problems.append(f"Event call {call.index} ({call.kind}): condition {condition}")


@dataclass(frozen=True)
class SoakResult:
    invokes: int
    answered: dict[str, int]
    event_ids: int
    events_delivered: int  # Event invokes whose request id the function ran (0 without ids)
    duplicates: int  # extra runs of Event invokes beyond what their retries explain
    durable: bool
    rss_early_kb: int
    rss_late_kb: int
    leftovers: list[str]
    processes_seen: int  # what the leftover check looked for: processes under the server during the run
    run_dirs_seen: int  # and its cgroup run directories
    exit_code: int
    problems: list[str]
    seconds: float

    @property
    def rss_ratio(self) -> float:
        return self.rss_late_kb / self.rss_early_kb


def soak(bootstrap: Path, work: Path, *, invokes: int, concurrency: int = 32, seed: int = 13) -> SoakResult:
    """Serve `bootstrap` as the three functions, run the soak, stop the server, check what is left."""
    codes = []
    for name in FUNCTIONS:
        (work / "code" / name).mkdir(parents=True)
        (work / "code" / name / "bootstrap").write_bytes(bootstrap.read_bytes())
        (work / "code" / name / "bootstrap").chmod(0o755)
        codes.append(work / "code" / name)
    calls = plan(invokes, seed)
    tally = Tally()
    server = Server(codes, work / "state")
    started = time.monotonic()
    try:
        dirs = configure_events(server, work / "destinations")
        asyncio.run(drive(server, calls, concurrency, max(1, invokes // 5), tally))
        tally.rss_kb["late"] = server.rss_kb()
        settle_events(server, tally, dirs, deadline_s=300)
        for rid, call in tally.sync_ids.items():
            if server.ran[rid] != 1:
                tally.problems.append(f"call {call.index} ({call.kind}) ran {server.ran[rid]} times")
        tally.seen_pids |= descendants(server.pid)
    finally:
        code = server.stop()
    seconds = time.monotonic() - started
    left = leftovers(server.pid, tally.seen_pids)
    ratio = tally.rss_kb["late"] / tally.rss_kb["early"]
    if ratio > 1 + RSS_TOLERANCE:
        tally.problems.append(f"RSS grew {ratio:.3f}x from the first fifth to the end")
    if code != 143:  # SIGTERM, after a clean shutdown
        tally.problems.append(f"coldlab serve exited {code}")
    if left:
        tally.problems.append(f"left after shutdown: {left[:10]}")
    sync = sum(1 for call in calls if not call.asynchronous)
    if sum(n for kind, n in tally.answered.items() if kind != "event") != sync:
        tally.problems.append("not every synchronous invoke was answered right")
    attempts = 1 + RETRIES if dirs is not None else 1
    duplicates = sum(
        max(0, server.ran[rid] - (1 if call.kind == "ok" else attempts))
        for rid, call in tally.event_ids.items()
    )
    return SoakResult(
        invokes=invokes,
        answered=dict(tally.answered),
        event_ids=len(tally.event_ids),
        events_delivered=sum(1 for rid in tally.event_ids if server.ran[rid] >= 1),
        duplicates=duplicates,
        durable=dirs is not None,
        rss_early_kb=tally.rss_kb["early"],
        rss_late_kb=tally.rss_kb["late"],
        leftovers=left,
        processes_seen=len(tally.seen_pids),
        run_dirs_seen=tally.seen_run_dirs,
        exit_code=code,
        problems=tally.problems,
        seconds=seconds,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invokes", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    from coldlab import gotool

    with tempfile.TemporaryDirectory(prefix="coldlab-soak-") as tmp:
        bootstrap = Path(tmp) / "build" / "bootstrap"
        gotool.build(gotool.GoBuild(package_dir=REPO / "examples" / "hello-go"), bootstrap)
        result = soak(
            bootstrap, Path(tmp), invokes=args.invokes, concurrency=args.concurrency, seed=args.seed
        )
    events = sum(1 for call in plan(args.invokes, args.seed) if call.asynchronous)
    print(
        f"{result.invokes} invokes at concurrency {args.concurrency} over {len(FUNCTIONS)} functions "
        f"in {result.seconds:.0f} s ({result.invokes / result.seconds:.0f}/s)"
    )
    sync = sorted((k, v) for k, v in result.answered.items() if k != "event")
    print("synchronous answered right: " + ", ".join(f"{kind} {count}" for kind, count in sync))
    print(
        f"Event: {result.answered.get('event', 0)} accepted of {events}, {result.event_ids} with a request "
        f"id, {result.events_delivered} delivered, {result.duplicates} duplicate runs; retries and "
        f"destinations {'checked' if result.durable else 'not available on this server'}"
    )
    print(
        f"server RSS: {result.rss_early_kb / 1024:.1f} MB after {args.invokes // 5}, "
        f"{result.rss_late_kb / 1024:.1f} MB after {args.invokes} ({result.rss_ratio:.3f}x)"
    )
    seen = f"{result.processes_seen} processes and {result.run_dirs_seen} cgroup run directories seen"
    print(f"after shutdown (exit {result.exit_code}): {len(result.leftovers)} left (of {seen})")
    for problem in result.problems[:30]:
        print(f"PROBLEM: {problem}")
    sys.exit(1 if result.problems else 0)


if __name__ == "__main__":
    main()
