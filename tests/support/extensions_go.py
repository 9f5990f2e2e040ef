"""Helpers for the extension and shutdown tests: the Go examples built, a layer holding extension-go, a
directory the function's user can write to and coldlab can read afterwards, and a run that records every
log line (the shutdown phase logs after the last invocation's result)."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.platform import Environment, InvocationResult
from coldlab.platform.shutdown import ShutdownReport
from support.runtime_scripts import GoBuilder, run

SIGTERM_FN = "sigterm-aws-lambda-go"
EXTENSION = "extension-go"
# /dev/shm is shared with the sandbox's mount namespace (its /tmp is private): flush files are seen from here.
SHARED_ROOT = Path("/dev/shm")


def built(go_build: GoBuilder, example: str) -> Path:
    """The example's code directory (its `bootstrap`)."""
    return go_build(example).parent


def make_layer(go_build: GoBuilder, where: Path, name: str = EXTENSION) -> Path:
    """A layer directory whose extensions/ holds extension-go under `name`."""
    layer = where / f"layer-{name}"
    (layer / "extensions").mkdir(parents=True, exist_ok=True)
    shutil.copy2(go_build(EXTENSION), layer / "extensions" / name)
    return layer


def shared_dir() -> Iterator[Path]:
    """A fresh world-writable directory under /dev/shm, removed afterwards (a generator for fixtures)."""
    path = Path(tempfile.mkdtemp(prefix="coldlab-test-", dir=SHARED_ROOT))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Run:
    results: list[InvocationResult] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    shutdown: ShutdownReport | None = None
    pids: list[int] = field(default_factory=list)
    dropped_records: int = 0


def run_environment(
    code: Path,
    events: Sequence[bytes],
    *,
    layers: Sequence[Path] = (),
    environment: dict[str, str] | None = None,
    env_options: dict[str, Any] | None = None,
    pause_s: float = 0.0,
    **config: Any,
) -> Run:
    """Invoke one environment with each event (`pause_s` apart, frozen meanwhile), then close it (the
    shutdown phase, reason spindown)."""
    record = Run()

    async def go() -> None:
        cfg = FunctionConfig.create(code, environment=environment or {}, **config)
        env = Environment(cfg, log_sink=record.lines.append, layers=layers, **(env_options or {}))
        async with env:
            for index, event in enumerate(events):
                if index and pause_s:
                    await asyncio.sleep(pause_s)
                record.results.append(await env.invoke(event))
                if env.pid is not None:
                    record.pids.append(env.pid)
        record.shutdown = env.last_shutdown

    run(go())
    return record


def telemetry(path: Path) -> list[dict[str, Any]]:
    """The records extension-go flushed (the last line, `shutdown <reason>`, left out)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def shutdown_reason(path: Path) -> str:
    return path.read_text().splitlines()[-1]


def running(comm: str) -> list[int]:
    """Pids whose command name is `comm` (an extension left running would show here)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                alive = (proc / "stat").read_text().rsplit(") ", 1)[1][0] != "Z"
                if alive and (proc / "comm").read_text().strip() == comm:
                    found.append(int(proc.name))
            except OSError:
                continue
    return found
