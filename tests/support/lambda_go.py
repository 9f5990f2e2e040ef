"""Helpers for the aws-lambda-go conformance tests: the two builds, a header tap, and readers for replies,
log lines and a process's environment."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from support.runtime_scripts import GoBuilder, run, script_python

HELLO = "hello-aws-lambda-go"
HTTPAPI = "httpapi-aws-lambda-go"
MODES = ("rpc", "norpc")  # aws-lambda-go built as is, and with -tags lambda.norpc
TAP_PREFIX = "coldlab-tap: "


@dataclass(frozen=True)
class GoFunction:
    """One build of an aws-lambda-go example: its code directory and whether RPC mode is compiled in."""

    code: Path
    rpc: bool

    @property
    def bootstrap(self) -> Path:
        return self.code / "bootstrap"


def build(go_build: GoBuilder, example: str, mode: str) -> GoFunction:
    """`example` built for `mode` ("rpc" or "norpc"); cached per test run by the go_build fixture."""
    tags = ("lambda.norpc",) if mode == "norpc" else ()
    return GoFunction(go_build(example, tags=tags).parent, rpc=mode == "rpc")


def reply(result: InvocationResult) -> dict[str, Any]:
    value = json.loads(result.payload)
    assert isinstance(value, dict), result.payload[:200]
    return value


def invoke_all(
    code: Path, events: Sequence[tuple[bytes, dict[str, Any]]], **config: Any
) -> list[InvocationResult]:
    """Invoke one environment with each (payload, invoke keyword arguments) in turn."""

    async def go() -> list[InvocationResult]:
        async with Environment(FunctionConfig.create(code, **config)) as env:
            return [await env.invoke(payload, **extra) for payload, extra in events]

    results: list[InvocationResult] = run(go())
    return results


_ID_LINE = re.compile(r"^(START|END|REPORT) RequestId: ([0-9a-f-]{36})\b")


def platform_request_ids(lines: Sequence[str]) -> dict[str, str]:
    """{"START": id, "END": id, "REPORT": id} from one invocation's log lines."""
    found: dict[str, str] = {}
    for line in lines:
        match = _ID_LINE.match(line)
        if match:
            found[match[1]] = match[2]
    return found


def process_environ(pid: int) -> dict[str, str]:
    """The environment a running (or frozen) process was started with, from /proc."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {key.decode(): value.decode() for key, _, value in pairs}


# The tap runs inside the sandbox, in front of the Go binary: a byte-for-byte TCP relay between the runtime
# and its AWS_LAMBDA_RUNTIME_API (so chunked bodies, trailers and keep-alive pass untouched) that prints the
# headers of every /next answer as one log line. It shows what coldlab really sent, to compare with what
# aws-lambda-go made of it.
_TAP = """
import json, os, socket, subprocess, sys, threading

UPSTREAM = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "function")
PREFIX = {prefix!r}


def sniff(buf, skip):
    while True:
        if skip:
            taken = min(skip, len(buf))
            buf, skip = buf[taken:], skip - taken
            if skip:
                return buf, skip
        end = buf.find(b"\\r\\n\\r\\n")
        if end < 0:
            return buf, 0
        head, buf = buf[:end].decode("latin-1"), buf[end + 4:]
        headers = {{}}
        for line in head.split("\\r\\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "lambda-runtime-aws-request-id" in headers:
            # one write for the whole line: the Go binary writes to the same pipe at the same time
            os.write(1, (PREFIX + json.dumps(headers) + "\\n").encode())
        skip = int(headers.get("content-length") or 0)


def pump(src, dst, watch):
    buf, skip = b"", 0
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
            if watch:
                buf, skip = sniff(buf + data, skip)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(listener):
    while True:
        client, _ = listener.accept()
        upstream = socket.create_connection((UPSTREAM[0], int(UPSTREAM[1])))
        threading.Thread(target=pump, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, True), daemon=True).start()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
threading.Thread(target=serve, args=(listener,), daemon=True).start()
env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % listener.getsockname()[1])
code = subprocess.call([BINARY], env=env)
sys.exit(code if code >= 0 else 128 - code)
"""


def tapped(function: GoFunction, dest: Path) -> Path:
    """A code directory whose bootstrap runs `function` behind the header tap; returns it."""
    dest.mkdir(parents=True, exist_ok=True)
    # Beside the tap: the sandbox sees only its code directory (at LAMBDA_TASK_ROOT), not the build's path.
    shutil.copy2(function.bootstrap, dest / "function")
    bootstrap = dest / "bootstrap"
    source = _TAP.format(prefix=TAP_PREFIX)
    bootstrap.write_text(f"#!{script_python()} -u\n{source}")
    bootstrap.chmod(0o755)
    return dest


def tapped_headers(lines: Sequence[str]) -> list[dict[str, str]]:
    """The /next headers (names in lower case) the tap logged, in order."""
    return [json.loads(line[len(TAP_PREFIX) :]) for line in lines if line.startswith(TAP_PREFIX)]
