"""Run N cold starts of one function in coldlab's execution environment and keep what each one measured.

Each run: unzip the package (timed), drop the binary's pages and time a cold read (page-in), then a fresh
Environment at the memory size with GODEBUG=inittrace=1: init ahead of the first request (`initialize`, so a
failed init is not retried inside an invoke), then the first request and `warm` more. One extra, untimed cold
start runs under strace when it is installed, for the network calls made before the first /next.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from coldlab.anatomy import codeprep
from coldlab.anatomy.network import NetworkCall, StraceTracer, parse, strace_path
from coldlab.anatomy.probe import ProbeHost
from coldlab.anatomy.timeline import InitSplit, StampedLine, split_init, trace_entries
from coldlab.config import DEFAULT_TIMEOUT_S, FunctionConfig
from coldlab.inspect.inittrace import InitEntry
from coldlab.inspect.names import ModuleMap
from coldlab.platform import Environment
from coldlab.platform.environment import INIT_TIMEOUT_S
from coldlab.sandbox import select_host
from coldlab.sandbox.initcpu import init_cpu_allowance

_INIT_REPORT = re.compile(r"^INIT_REPORT Init Duration: ([0-9.]+) ms\s+Phase: \w+\s+Status: (\w+)")
_PLATFORM_WORDS = ("INIT_START", "INIT_REPORT", "START RequestId", "END RequestId", "REPORT RequestId")
INITTRACE_NOTE = (
    "GODEBUG=inittrace=1 was set for every run: it forces the runtime's slow allocation path while package "
    "inits run, so their times are a little above an untraced run's (reference go-binaries §4.4)"
)


@dataclass(frozen=True)
class RunSpec:
    path: Path  # the user's code directory or zip
    memory_mb: int
    runs: int = 10
    warm: int = 3  # warm invokes after each cold start (for the warm median)
    event: bytes = b"{}"
    init_cpu: str | None = (
        None  # an init CPU allowance setting; None keeps $COLDLAB_INIT_CPU's (or the default)
    )
    timeout_s: int = DEFAULT_TIMEOUT_S
    init_timeout_s: float = INIT_TIMEOUT_S
    trace_network: bool = True
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    index: int
    ok: bool
    init_ms: float | None  # exec -> first /next; for a failed init, exec -> the failure
    split: InitSplit | None
    inits: tuple[InitEntry, ...]
    first_ms: float | None  # the first request's Duration
    warm_ms: tuple[float, ...]
    unzip_ms: float
    page_in: codeprep.PageIn
    max_memory_used_mb: int = 0
    failure: str | None = None  # "Runtime.ExitError", "Sandbox.Timedout", ... when init failed
    failure_detail: str = ""  # the function's last output lines before it failed
    gomaxprocs_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Measured:
    runs: tuple[RunRecord, ...]
    zipped_bytes: int
    fidelity: dict[str, object]
    network: tuple[NetworkCall, ...] | None  # None: not traced (network_note says why)
    network_note: str | None
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> RunRecord | None:
        return next((r for r in self.runs if not r.ok), None)


Progress = Callable[[int, int], None]


async def measure(spec: RunSpec, modules: ModuleMap | None, progress: Progress | None = None) -> Measured:
    """Every run's record (stopping at the first failed init), then the traced run."""
    init_vcpus = init_cpu_allowance(spec.init_cpu) if spec.init_cpu is not None else init_cpu_allowance()
    pkg = codeprep.package(spec.path)
    records: list[RunRecord] = []
    fidelity: dict[str, object] = {}
    notes = [INITTRACE_NOTE]
    try:
        for index in range(spec.runs):
            record, fidelity = await _one_run(spec, pkg, modules, index, init_vcpus)
            records.append(record)
            if progress is not None:
                progress(index + 1, spec.runs)
            if not record.ok:
                if index + 1 < spec.runs:
                    notes.append(
                        f"stopped after run {index + 1} of {spec.runs}: init failed ({record.failure})"
                    )
                break
        network: tuple[NetworkCall, ...] | None = None
        network_note: str | None = "the network trace needs an init that succeeds"
        if spec.trace_network and records and records[-1].ok:
            network, network_note = await _traced_run(spec, pkg, init_vcpus)
        elif not spec.trace_network:
            network_note = "network tracing turned off"
        if not all(r.page_in.dropped for r in records):
            notes.append(
                "the binary's pages could not be dropped from the page cache before every run (tmpfs, or "
                "mapped elsewhere): exec and page-in times are warm-cache figures"
            )
        return Measured(tuple(records), pkg.zipped_bytes, fidelity, network, network_note, tuple(notes))
    finally:
        pkg.cleanup()


def _config(spec: RunSpec, root: Path) -> FunctionConfig:
    env = dict(spec.environment)
    env["GODEBUG"] = ",".join(x for x in (env.get("GODEBUG", ""), "inittrace=1") if x)
    return FunctionConfig.create(root, memory_mb=spec.memory_mb, timeout_s=spec.timeout_s, environment=env)


def _environment(
    spec: RunSpec, root: Path, probe: ProbeHost, lines: list[StampedLine], init_vcpus: float | None
) -> Environment:
    config = _config(spec, root)
    env = Environment(
        config,
        host=probe,
        log_sink=lambda text: lines.append(StampedLine(time.perf_counter(), text)),
        init_timeout_s=spec.init_timeout_s,
    )
    env.limits = replace(env.limits, init_vcpus=init_vcpus)  # before start: the sandbox is shaped from it
    return env


async def _one_run(
    spec: RunSpec, pkg: codeprep.Package, modules: ModuleMap | None, index: int, init_vcpus: float | None
) -> tuple[RunRecord, dict[str, object]]:
    unzipped = codeprep.unzip(pkg)
    try:
        page = codeprep.page_in(unzipped.code.bootstrap)
        probe = ProbeHost(select_host())
        lines: list[StampedLine] = []
        env = _environment(spec, unzipped.code.root, probe, lines, init_vcpus)
        async with env:
            fidelity = env.fidelity.as_dict()
            outcome = await env.initialize()
            traced = trace_entries(lines, modules)
            inits = tuple(e for _, e in traced)
            exec_at = probe.exec_times[0] if probe.exec_times else None
            if not outcome.ok or outcome.duration_ms is None:
                init_ms = _failed_init_ms(outcome.log_lines)
                split = split_init(exec_at, init_ms, traced) if exec_at is not None and init_ms else None
                record = RunRecord(
                    index, False, init_ms, split, inits, None, (), unzipped.unzip_ms, page,
                    failure=outcome.error_type or "Runtime.Unknown", failure_detail=_last_output(lines),
                )  # fmt: skip
                return record, fidelity
            split = split_init(exec_at, outcome.duration_ms, traced) if exec_at is not None else None
            first = await env.invoke(spec.event)
            warm = [await env.invoke(spec.event) for _ in range(spec.warm)]
        record = RunRecord(
            index, True, outcome.duration_ms, split, inits, first.duration_ms,
            tuple(w.duration_ms for w in warm), unzipped.unzip_ms, page,
            max_memory_used_mb=max([first.max_memory_used_mb, *(w.max_memory_used_mb for w in warm)]),
            failure=None if first.ok else f"first request failed: {first.error_type}",
            gomaxprocs_env=dict(env.config.environment),
        )  # fmt: skip
        return record, fidelity
    finally:
        unzipped.code.cleanup()


def _failed_init_ms(lines: tuple[str, ...]) -> float | None:
    for line in reversed(lines):
        match = _INIT_REPORT.match(line)
        if match:
            return float(match.group(1))
    return None


def _last_output(lines: list[StampedLine], keep: int = 3) -> str:
    own = [
        s.text.strip()
        for s in lines
        if s.text.strip() and not s.text.startswith(_PLATFORM_WORDS) and not s.text.startswith("init ")
    ]
    return " | ".join(own[-keep:])


async def _traced_run(
    spec: RunSpec, pkg: codeprep.Package, init_vcpus: float | None
) -> tuple[tuple[NetworkCall, ...] | None, str | None]:
    executable = strace_path()
    if executable is None:
        return (
            None,
            "strace is not installed: network calls during init were not traced (apt-get install strace)",
        )
    output = pkg.workdir / "strace.txt"
    tracer = StraceTracer(executable, output)
    unzipped = codeprep.unzip(pkg)
    try:
        probe = ProbeHost(select_host(), tracer.attach)
        env = _environment(spec, unzipped.code.root, probe, [], init_vcpus)
        async with env:
            outcome = await env.initialize()
            runtime_api = env.runtime_api
    finally:
        await tracer.stop()
        unzipped.code.cleanup()
    if not tracer.attached:
        return None, tracer.note
    if not outcome.ok:
        return None, "the traced cold start's init failed; its network calls are not shown"
    text = output.read_text("utf-8", "replace") if output.exists() else ""
    return tuple(parse(text, runtime_api)), "strace -f of the sandbox (one extra cold start, not timed)"
