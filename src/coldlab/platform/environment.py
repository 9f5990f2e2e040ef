"""One Lambda execution environment: init → invoke → freeze → ... → shutdown, with Lambda's reports.

The platform wires the Runtime API (pure core + HTTP adapter) to the sandbox Host; neither knows the other.
Timings use the monotonic clock; log lines follow `coldlab.logs.text` byte for byte.

With extensions (lambda-contract §2, §5): external ones (layers.py) start in the sandbox before the runtime,
and the runtime starts once they have registered; init ends when the runtime and every extension wait on
`next`; an invoke ends when all of them are back there (the timeout covers that span); an extension that
dies fails the environment. Destroying a sandbox runs the shutdown phase (shutdown.py). Telemetry
subscribers get the records of telemetry.py's hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from coldlab.config import FunctionConfig
from coldlab.errors import CodeError
from coldlab.logs import log_format as make_log_format
from coldlab.logs import text
from coldlab.platform import records
from coldlab.platform.code import CodePackage, load_code
from coldlab.platform.emf import EmfRecord, scan_emf
from coldlab.platform.envvars import lambda_environment, log_stream_name
from coldlab.platform.extensions import (
    ExtensionExited,
    ExtensionProcesses,
    crash_lines,
    extension_environment,
    extension_line,
    telemetry_line,
)
from coldlab.platform.failures import error_payload, exit_payload, exit_reason, timeout_payload
from coldlab.platform.layers import LayerSet, external_extensions, load_layers
from coldlab.platform.logtail import LogTail
from coldlab.platform.output import OutputPipe
from coldlab.platform.result import ColdStartPhases, InitOutcome, InvocationResult
from coldlab.platform.shutdown import ShutdownReport, run_shutdown
from coldlab.platform.spare import Spare
from coldlab.platform.telemetry import TelemetryHub
from coldlab.runtime.core import InitFailed, Resolved, RuntimeReady
from coldlab.runtime.extensions import (
    MAX_EXTENSIONS,
    ExtensionFailed,
    ExtensionWaiting,
    FunctionFacts,
    invoke_event,
)
from coldlab.runtime.model import Invocation, Outcome
from coldlab.runtime.server import PlatformEffect, RuntimeApiServer, Subscribed
from coldlab.sandbox import Fidelity, Host, Limits, PreparedSandbox, Sandbox, select_host
from coldlab.sandbox.initcpu import init_cpu_allowance

INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit for on-demand functions (reference §5)
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_ids = itertools.count(1)


@dataclass(frozen=True)
class _Exited:
    returncode: int


_Event = PlatformEffect | _Exited | ExtensionExited


@dataclass
class _PreparedRuntime:
    """A prepared sandbox, the pipe its output goes to, and the Runtime API endpoint only it may call."""

    sandbox: PreparedSandbox
    output: OutputPipe
    endpoint: str
    server: RuntimeApiServer
    env: dict[str, str]

    @property
    def alive(self) -> bool:
        return self.sandbox.sandbox.process.returncode is None

    def discard(self) -> None:
        self.sandbox.discard()
        self.output.close()
        self.server.drop_endpoint(self.endpoint)


@dataclass(frozen=True)
class _Attempt:
    """One invocation in flight: its id, when its invoke phase began and must end, and what init it carried.

    `deadline` (monotonic) and `deadline_ms` (the runtime's Lambda-Runtime-Deadline-Ms) are one instant: a
    suppressed re-init runs inside the same budget, so the runtime is never told it has time coldlab will
    not give it.
    """

    request_id: str
    begun: float
    deadline: float
    deadline_ms: int
    init_ms: float | None
    init_billed: bool
    cold: bool
    phases: ColdStartPhases | None
    trace_id: str = ""


class _RegistrationFailed(Exception):  # noqa: N818 - a control-flow signal inside _spawn, never raised out
    def __init__(self, result: _InitResult) -> None:
        super().__init__(result.error_type)
        self.result = result


@dataclass(frozen=True)
class _InitResult:
    duration_ms: float
    phases: ColdStartPhases
    status: str  # "success" | "error" | "timeout"
    error_type: str | None = None
    payload: bytes = b""
    exit_reason: str | None = None


class Environment:
    """A Lambda-like execution environment for one function configuration.

    Use as `async with Environment(config) as env: result = await env.invoke(b"{}")`. The first invoke runs
    init (cold) unless `initialize()` ran it ahead of traffic (provisioned concurrency); later invokes reuse
    the process, frozen whenever it is idle, until a crash or timeout resets it.
    """

    def __init__(
        self,
        config: FunctionConfig,
        *,
        host: Host | None = None,
        log_sink: Callable[[str], None] | None = None,
        cpu_visibility: str = "parent",
        initialization_type: str = "on-demand",
        init_timeout_s: float = INIT_TIMEOUT_S,
        log_format: str = "text",
        prepare_sandbox: bool = True,
        layers: Sequence[Path] = (),
    ) -> None:
        self.config = config
        self.host = host or select_host()
        self.limits = Limits(
            memory_mb=config.memory_mb,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
            cpu_visibility=cpu_visibility,
            init_vcpus=init_cpu_allowance(),  # init's CPU, lifted at the first /next (sandbox/initcpu.py)
        )
        self.id = f"{os.getpid():x}-{next(_ids)}"
        self._log_sink = log_sink
        self._format = make_log_format(
            log_format, function_name=config.function_name, version=config.version, region=config.region
        )
        self._initialization_type = initialization_type
        self._init_timeout_s = init_timeout_s
        facts = FunctionFacts(config.function_name, config.version, config.handler, config.account_id)
        self._server = RuntimeApiServer(self._on_effect, facts=facts)
        self._layer_paths = tuple(layers)
        self._layers = LayerSet(None)
        self._extensions = ExtensionProcesses((), self._extension_line)
        self._hub: TelemetryHub | None = None
        self.last_shutdown: ShutdownReport | None = None  # the shutdown phase of the last sandbox destroyed
        self._unstarted: PreparedSandbox | None = None
        self._emf: list[EmfRecord] = []
        self._code: CodePackage | None = None
        self._sandbox: Sandbox | None = None
        self._output: OutputPipe | None = None
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._exit_watch: asyncio.Task[None] | None = None
        self._initialized_once = False
        self._init_ahead_ms: float | None = None  # an init run by `initialize()`, shown on the next REPORT
        self._last_init_error: str | None = None
        self._tail = LogTail()
        self._lock = asyncio.Lock()
        self._busy = False
        self._closed = False
        self.freezes = 0  # how many times the sandbox was frozen (benchmarks count them)
        # prepare_sandbox=False makes every sandbox on the invoke's path instead (see spare.py)
        self._spare: Spare[_PreparedRuntime] = Spare(self._prepare, enabled=prepare_sandbox)
        self._log_stream = log_stream_name(config.version)
        self.runtime_api = ""  # the current sandbox's Runtime API endpoint

    @functools.cached_property
    def fidelity(self) -> Fidelity:
        """Fixed by the host and the limits, so worked out once, not on every invoke."""
        return self.host.fidelity(self.limits)

    @functools.cached_property
    def _fidelity_dict(self) -> dict[str, object]:
        return self.fidelity.as_dict()

    @property
    def pid(self) -> int | None:
        """The bootstrap's process id while a sandbox exists."""
        return self._sandbox.process.pid if self._sandbox is not None else None

    @property
    def state(self) -> str:
        """ "new" (never initialized), "initializing", "busy", "idle" (frozen, or reset and ready to re-init)
        or "closed"."""
        if self._closed:
            return "closed"
        if self._busy:
            return "busy" if self._initialized_once and self._sandbox is not None else "initializing"
        return "idle" if self._initialized_once else "new"

    @property
    def code(self) -> CodePackage:
        if self._code is None:
            raise RuntimeError("the environment is not started")
        return self._code

    async def __aenter__(self) -> Environment:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Check the code, open the Runtime API, prepare a sandbox. The bootstrap runs at the first invoke."""
        self._code = load_code(self.config.code)
        self._layers = load_layers(self._layer_paths)
        found = external_extensions(self._code.root, self._layers.root)
        if len(found) > MAX_EXTENSIONS:
            raise CodeError(
                f"{len(found)} external extensions found; Lambda allows {MAX_EXTENSIONS} "
                "(Extension.TooManyExtensions)",
                "remove some executables from extensions/",
            )
        self._extensions = ExtensionProcesses(found, self._extension_line)
        await self._server.start()
        self._spare.refill()
        await self._spare.ready()  # a failure is reported by the first invoke

    async def close(self) -> None:
        """Destroy the environment: the shutdown phase (reason spindown) runs on a live sandbox first."""
        if self._closed:
            return
        self._closed = True
        self._spare.close()
        async with self._lock:  # an invoke under way finishes first
            await self._destroy("spindown")
        await self._server.close()
        if self._code is not None:
            self._code.cleanup()
        self._layers.cleanup()

    # --- logging -------------------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        self._tail.append(line)
        if self._log_sink is not None:
            self._log_sink(line)

    def _function_line(self, line: str) -> None:
        """A line the runtime wrote: logged, scanned for EMF, sent to telemetry subscribers."""
        self._log(line)
        self._emf.extend(scan_emf(line))
        if self._hub is not None:
            self._hub.emit("function", line)

    def _extension_line(self, line: str) -> None:
        self._log(line)
        if self._hub is not None:
            self._hub.emit("extension", line)

    def _platform(self, kind: str, body: dict[str, object]) -> None:
        if self._hub is not None:
            self._hub.emit(kind, body)

    @property
    def _json_logs(self) -> bool:
        return self._format.name == "JSON"

    def _on_effect(self, effect: PlatformEffect) -> None:
        if isinstance(effect, Subscribed):  # handled now: records must reach it from this moment
            sub = effect.subscription
            if self._hub is not None:
                self._hub.subscribe(sub)
            self._log(telemetry_line(sub.extension, sub.types, json_format=self._json_logs))
            self._platform(
                "platform.telemetrySubscription",
                {"name": sub.extension, "state": "Subscribed", "types": list(sub.types)},
            )
            return
        if isinstance(effect, ExtensionWaiting) and effect.first:
            ext = self._server.extensions.by_name(effect.name)
            events = ext.events if ext is not None else ()
            self._log(extension_line(effect.name, "Ready", events, json_format=self._json_logs))
            self._platform(
                "platform.extension", {"name": effect.name, "state": "Ready", "events": list(events)}
            )
        self._events.put_nowait(effect)

    # --- sandbox lifecycle -----------------------------------------------------------------------------

    async def _prepare(self) -> _PreparedRuntime:
        """A sandbox whose process is set up and waits to exec the bootstrap, the pipe it writes to, and the
        Runtime API endpoint made for it alone."""
        endpoint = await self._server.open_endpoint()
        output = OutputPipe(self._function_line)
        env = lambda_environment(
            self.config,
            runtime_api=endpoint,
            task_root=str(self.code.root),
            log_stream=self._log_stream,
            credentials={k: os.environ[k] for k in _CREDENTIAL_VARS if k in os.environ},
            initialization_type=self._initialization_type,
        )
        if self._format.name == "JSON":  # Lambda tells the runtime which format it logs in (reference §4.2)
            env.update({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
        try:
            prepared = await self.host.prepare(
                [str(self.code.bootstrap)],
                env,
                self.code.root,
                self.limits,
                output.write_fd,
                opt_dir=self._layers.root,
            )
        except BaseException:
            output.close()
            self._server.drop_endpoint(endpoint)
            raise
        return _PreparedRuntime(prepared, output, endpoint, self._server, env)

    async def _spawn(self, limit_s: float, deadline: float, phase: str) -> tuple[float, _InitResult | None]:
        """Start the external extensions, wait for them to register, then start the bootstrap (all in the
        prepared sandbox). The monotonic time of the first exec, and a failed init's result if it failed
        before the bootstrap could start. Init ends `limit_s` after that exec, or at `deadline` if given."""
        self._events = asyncio.Queue()
        prepared = await self._spare.take()
        self._server.reset(prepared.endpoint, self._extensions.names)
        self._hub = TelemetryHub()
        self._platform(*records.init_start(self.config, self._initialization_type, phase, self.id))
        self.runtime_api = prepared.endpoint
        started = time.perf_counter()
        deadline = deadline or started + limit_s
        try:
            await self._extensions.start(
                prepared.sandbox, extension_environment(prepared.env), self.code.root, self._events
            )
            failed = await self._await_registration(started, deadline)
            if failed is not None:
                raise _RegistrationFailed(failed)
            sandbox = await prepared.sandbox.start()
        except _RegistrationFailed as stop:  # destroyed by the caller, with a shutdown phase
            self._sandbox, self._output = prepared.sandbox.sandbox, prepared.output
            self._unstarted = prepared.sandbox
            return started, stop.result
        except BaseException:
            prepared.output.close()
            prepared.sandbox.discard()
            await self._extensions.close()
            self._server.retire()
            raise
        prepared.output.close_write_end()
        self._sandbox, self._output = sandbox, prepared.output
        events = self._events

        async def watch_exit() -> None:
            events.put_nowait(_Exited(await sandbox.process.wait()))

        self._exit_watch = asyncio.create_task(watch_exit())
        return started, None

    def _freeze(self) -> None:
        """The runtime waits on `/next` with nothing queued: freeze it now, as Lambda does."""
        if self._sandbox is not None:
            self._sandbox.freeze()
            self.freezes += 1

    async def _await_registration(self, started: float, deadline: float) -> _InitResult | None:
        """Wait until every external extension has registered (Lambda starts the runtime only then)."""
        expected = self._extensions.names
        while self._server.extensions.unregistered_external(expected):
            event = await self._next_event(deadline)
            elapsed = (time.perf_counter() - started) * 1000
            phases = ColdStartPhases(0.0, elapsed)
            if event is None:
                return _InitResult(elapsed, phases, "timeout")
            if isinstance(event, ExtensionExited):
                return self._crash_result(elapsed, phases, event)
            if isinstance(event, ExtensionFailed):
                return _InitResult(elapsed, phases, "error", event.error_type, event.payload)
        return None

    def _crash_result(
        self, elapsed_ms: float, phases: ColdStartPhases, event: ExtensionExited
    ) -> _InitResult:
        self._extension_crashed(None, event)
        message = f"Error: Extension {event.name} exited with error: {exit_reason(event.returncode)}"
        return _InitResult(
            elapsed_ms, phases, "error", "Extension.Crash", error_payload("Extension.Crash", message)
        )

    def _extension_crashed(self, request_id: str | None, event: ExtensionExited) -> None:
        self._extensions.flush()
        ext = self._server.extensions.by_name(event.name)
        events = ext.events if ext is not None else ()
        self._log(
            extension_line(
                event.name, "Crashed", events, json_format=self._json_logs, error_type="Extension.Crash"
            )
        )
        for line in crash_lines(request_id, event.name, exit_reason(event.returncode)):
            self._log(line)

    async def _destroy(self, reason: str = "failure") -> None:
        """Run the shutdown phase and release the sandbox (after a crash, timeout, failed init: reason
        failure or timeout; at close: spindown)."""
        if self._sandbox is not None:
            self._output_flush()
            self.last_shutdown = await run_shutdown(
                reason=reason,
                sandbox=self._sandbox,
                extensions=self._server.extensions,
                externals=self._extensions.children,
                send=self._server.send_extensions,
                hub=self._hub,
                log=self._log,
            )
        self._server.retire()  # nothing the dying processes still send may reach the next sandbox
        await self._extensions.close()
        if self._hub is not None:
            await self._hub.close()
            self._hub = None
        if self._unstarted is not None:  # its bootstrap never started: let the waiting process go
            self._unstarted.discard()
            self._unstarted = None
        if self._sandbox is not None:
            self._sandbox.thaw()  # a frozen process group must run to die cleanly and flush its output
            self._sandbox.kill()
            self._sandbox.close()
            self._sandbox = None
        if self._exit_watch is not None:
            self._exit_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._exit_watch
            self._exit_watch = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def _sample_peak(self) -> None:
        """Read the memory peak while the process is alive: a crash that follows leaves only the cgroup's
        charge, which misses the binary's pages the host had cached (hello-go: 2 MB instead of 7 MB)."""
        if self._sandbox is not None:
            self._sandbox.peak_memory_bytes()

    async def _next_event(self, deadline: float) -> _Event | None:
        """The next platform event, or None when the monotonic `deadline` passes first."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return self._events.get_nowait() if not self._events.empty() else None
        try:
            return await asyncio.wait_for(self._events.get(), remaining)
        except TimeoutError:
            return None

    async def _initialize(
        self, accepted: float, *, limit_s: float = 0.0, deadline: float = 0.0, phase: str = "init"
    ) -> _InitResult:
        """Spawn and wait until the runtime and every extension wait on `next` (or an init error, an exit,
        or the end of the init budget: `limit_s` after the first exec, or the monotonic `deadline`)."""
        result = await self._await_init(accepted, limit_s, deadline, phase)
        kind = self._initialization_type
        self._platform(*records.init_runtime_done(kind, phase, result.status, result.error_type))
        self._platform(*records.init_report(kind, phase, result.duration_ms, result.status))
        if self._hub is not None:
            self._hub.end_backlog()
        return result

    async def _await_init(self, accepted: float, limit_s: float, deadline: float, phase: str) -> _InitResult:
        started, failed = await self._spawn(limit_s, deadline, phase)
        if failed is not None:
            return failed
        spawned = time.perf_counter()
        deadline = deadline or started + limit_s
        runtime_ready = False
        while True:
            event = await self._next_event(deadline)
            now = time.perf_counter()
            elapsed_ms = (now - started) * 1000
            phases = ColdStartPhases((spawned - accepted) * 1000, (now - spawned) * 1000)
            if event is None:
                return _InitResult(elapsed_ms, phases, "timeout")
            if isinstance(event, RuntimeReady):
                runtime_ready = True
                self._server.extensions.close_registration()
                self._sample_peak()
                if self._sandbox is not None:
                    self._sandbox.end_init()  # init's CPU allowance ends here (sandbox/initcpu.py)
            if runtime_ready and isinstance(event, RuntimeReady | ExtensionWaiting):
                if self._server.extensions.all_waiting():
                    self._sample_peak()
                    return _InitResult(elapsed_ms, phases, "success")
            elif isinstance(event, InitFailed):
                failure = event.failure
                return _InitResult(elapsed_ms, phases, "error", failure.error_type, failure.payload)
            elif isinstance(event, ExtensionFailed):
                return _InitResult(elapsed_ms, phases, "error", event.error_type, event.payload)
            elif isinstance(event, _Exited):
                reason = exit_reason(event.returncode)
                return _InitResult(elapsed_ms, phases, "error", "Runtime.ExitError", exit_reason=reason)
            elif isinstance(event, ExtensionExited):
                return self._crash_result(elapsed_ms, phases, event)

    # --- init ahead of traffic ---------------------------------------------------------------------------

    async def initialize(self) -> InitOutcome:
        """Run init now, before any invoke (provisioned concurrency); the environment is frozen after it.

        The first invoke that follows is warm, and its REPORT shows this Init Duration, as Lambda's first
        invoke on a provisioned environment does (reference serve-and-cloudrun §4).
        """
        async with self._lock:
            self._busy = True
            self._tail = LogTail()
            try:
                if self._initialized_once:
                    raise RuntimeError("this environment has already run init")
                init_ms, _ = await self._init_phase(time.perf_counter())
                if init_ms is not None:
                    self._init_ahead_ms = init_ms
                    self._freeze()
                    return InitOutcome(True, init_ms, None, self._tail.lines())
                return InitOutcome(False, None, self._last_init_error, self._tail.lines())
            finally:
                self._busy = False
                if self._sandbox is None and not self._closed:
                    self._spare.refill()

    # --- invoke ----------------------------------------------------------------------------------------

    async def invoke(
        self,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        cognito_identity: str | None = None,
    ) -> InvocationResult:
        """Run one invocation; cold (with init) when no initialized process exists."""
        async with self._lock:
            self._busy = True
            try:
                return await self._invoke(payload, request_id, client_context, cognito_identity)
            finally:
                self._busy = False
                if self._sandbox is None and not self._closed:  # reset (crash, timeout, failed init)
                    self._spare.refill()

    async def _invoke(
        self, payload: bytes, request_id: str | None, client_context: str | None, cognito_identity: str | None
    ) -> InvocationResult:
        self._tail = LogTail()
        self._emf = []
        accepted = time.perf_counter()
        if self._sandbox is not None and self._sandbox.process.returncode is not None:
            await self._destroy()  # died while frozen (e.g. killed for memory): re-init inside this invoke
        cold = self._sandbox is None
        init_ms, phases = await self._init_phase(accepted) if cold else (None, None)
        init_billed = True
        if self._init_ahead_ms is not None:
            init_ms, self._init_ahead_ms, init_billed = self._init_ahead_ms, None, False
        begun, wall = time.perf_counter(), time.time()
        timeout_s = self.config.timeout_s
        attempt = _Attempt(
            request_id or str(uuid.uuid4()),
            begun,
            begun + timeout_s,
            int((wall + timeout_s) * 1000),
            init_ms,
            init_billed,
            cold,
            phases,
            f"Root=1-{int(wall):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0",
        )
        self._log(self._format.start(attempt.request_id))
        self._platform(*records.start(attempt.request_id, self.config.version, attempt.trace_id))
        if self._sandbox is None:
            failed = await self._suppressed_init(attempt)
            if failed is not None:
                return failed
        else:
            assert self._sandbox is not None
            self._sandbox.thaw()
            if self._hub is not None:
                self._hub.resume()
        invocation = self._invocation(attempt, payload, client_context, cognito_identity)
        return await self._run(attempt, invocation)

    async def _init_phase(self, accepted: float) -> tuple[float | None, ColdStartPhases | None]:
        """The first init of this environment (INIT_START, capped at 10 s). Failure leaves no sandbox."""
        if self._initialized_once:
            return None, None  # after a reset, init is re-run inside the invoke instead (suppressed)
        self._initialized_once = True
        self._log(self._format.init_start())
        init = await self._initialize(accepted, limit_s=self._init_timeout_s)
        if init.status == "success":
            return init.duration_ms, init.phases
        self._output_flush()
        self._last_init_error = init.error_type or "Sandbox.Timedout"
        self._log(
            self._format.init_report(
                init.duration_ms, phase="init", status=init.status, error_type=init.error_type
            )
        )
        await self._destroy()
        return None, None

    async def _suppressed_init(self, attempt: _Attempt) -> InvocationResult | None:
        """Init re-run inside the invoke, bounded by the invoke's own deadline; a result only if it failed."""
        init = await self._initialize(attempt.begun, deadline=attempt.deadline, phase="invoke")
        if init.status == "success":
            return None
        if init.status == "timeout":
            return await self._finish_timeout(attempt)
        self._output_flush()
        self._log(
            self._format.init_report(
                init.duration_ms, phase="invoke", status="error", error_type=init.error_type
            )
        )
        payload = init.payload
        if init.exit_reason is not None:
            self._log_exit(attempt.request_id, init.exit_reason)
            payload = payload or exit_payload(attempt.request_id, init.exit_reason)
        outcome = Outcome(attempt.request_id, payload, "application/json", "Unhandled", init.error_type)
        result = self._finish(attempt, outcome, status="error", platform_error=True)
        await self._destroy()
        return result

    async def _run(self, attempt: _Attempt, invocation: Invocation) -> InvocationResult:
        """Hand the event to the runtime and the INVOKE-subscribed extensions, and wait until the runtime has
        answered and it and every extension are back on `next` (or a failure, or the deadline)."""
        self._server.submit(invocation)
        extensions = self._server.extensions
        event_for_extensions = invoke_event(
            attempt.request_id, attempt.deadline_ms, invocation.function_arn, invocation.trace_id
        )
        self._server.send_extensions(extensions.invoke(event_for_extensions))
        outcome: Outcome | None = None
        runtime_done: float | None = None
        while True:
            event = await self._next_event(attempt.deadline)
            if event is None:
                return await self._finish_timeout(attempt, outcome)
            if isinstance(event, Resolved):
                outcome = event.outcome
                self._platform(*records.runtime_done(attempt, outcome, time.perf_counter()))
                if not outcome.ok:
                    self._sample_peak()  # a runtime that reports a panic then exits (aws-lambda-go)
            elif isinstance(event, RuntimeReady) and outcome is not None and self._sandbox is not None:
                runtime_done = time.perf_counter()
            elif isinstance(event, _Exited):
                return await self._finish_exit(attempt, outcome, event.returncode)
            elif isinstance(event, ExtensionExited | ExtensionFailed):
                return await self._finish_extension_failure(attempt, outcome, event)
            if outcome is not None and runtime_done is not None and extensions.all_waiting():
                ended = time.perf_counter()
                status = "success" if outcome.ok else "error"
                result = self._finish(
                    attempt, outcome, status=status, ended=ended, overhead_ms=(ended - runtime_done) * 1000
                )
                await self._freeze_idle()
                return result

    async def _freeze_idle(self) -> None:
        if self._hub is not None:
            await self._hub.pause()
        self._freeze()

    async def _finish_extension_failure(
        self, attempt: _Attempt, outcome: Outcome | None, event: ExtensionExited | ExtensionFailed
    ) -> InvocationResult:
        """An extension died (or said it is exiting) during the invoke: Lambda fails and resets the
        environment; the caller keeps the runtime's answer if it came first."""
        self._output_flush()
        if isinstance(event, ExtensionExited):
            self._extension_crashed(attempt.request_id, event)
            error_type = "Extension.Crash"
        else:
            error_type = event.error_type
            self._log(
                extension_line(
                    event.name, "ExitError", (), json_format=self._json_logs, error_type=error_type
                )
            )
        if outcome is None:
            message = f"RequestId: {attempt.request_id} Error: extension {event.name} failed ({error_type})"
            payload = error_payload(error_type, message)
            outcome = Outcome(attempt.request_id, payload, "application/json", "Unhandled", error_type)
        result = self._finish(attempt, outcome, status="error", platform_error=True, error_type=error_type)
        await self._destroy("failure")
        return result

    async def _finish_exit(
        self, attempt: _Attempt, outcome: Outcome | None, returncode: int
    ) -> InvocationResult:
        ended = time.perf_counter()
        reason = exit_reason(returncode)
        self._output_flush()
        self._log_exit(attempt.request_id, reason)
        if outcome is None:
            payload = exit_payload(attempt.request_id, reason)
            outcome = Outcome(
                attempt.request_id, payload, "application/json", "Unhandled", "Runtime.ExitError"
            )
        result = self._finish(
            attempt, outcome, status="error", ended=ended, platform_error=True, error_type="Runtime.ExitError"
        )
        await self._destroy()
        return result

    def _invocation(
        self, attempt: _Attempt, payload: bytes, client_context: str | None, cognito_identity: str | None
    ) -> Invocation:
        trace = attempt.trace_id
        return Invocation(
            request_id=attempt.request_id,
            payload=payload,
            deadline_ms=attempt.deadline_ms,
            function_arn=self.config.function_arn,
            trace_id=trace,
            client_context=client_context,
            cognito_identity=cognito_identity,
        )

    def _log_exit(self, request_id: str, reason: str) -> None:
        for line in text.runtime_exited(request_id, reason):
            self._log(line)

    def _output_flush(self) -> None:
        if self._output is not None:
            self._output.flush()

    async def _finish_timeout(self, attempt: _Attempt, outcome: Outcome | None = None) -> InvocationResult:
        timeout_s = self.config.timeout_s
        self._output_flush()
        self._log(text.timed_out(attempt.request_id, timeout_s))
        if outcome is None:
            payload = timeout_payload(attempt.request_id, timeout_s)
            outcome = Outcome(
                attempt.request_id, payload, "application/json", "Unhandled", "Sandbox.Timedout"
            )
        # Lambda reports the duration as the timeout itself, however late the kill lands.
        result = self._finish(attempt, outcome, status="timeout", ended=attempt.deadline)
        await self._destroy("timeout")
        return result

    def _finish(
        self,
        attempt: _Attempt,
        outcome: Outcome,
        *,
        status: str,
        ended: float | None = None,
        platform_error: bool = False,
        error_type: str | None = None,
        overhead_ms: float = 0.0,
    ) -> InvocationResult:
        """END and REPORT, and the result. Duration runs to the end of the invoke phase: for an extension
        that works after the response, that includes `overhead_ms` (PostRuntimeExtensionsDuration)."""
        duration_ms = ((ended or time.perf_counter()) - attempt.begun) * 1000
        init_ms = attempt.init_ms
        self._output_flush()
        self._extensions.flush()
        request_id = outcome.request_id
        peak = self._sandbox.peak_memory_bytes() if self._sandbox is not None else 0
        used_mb = min(text.memory_used_mb(peak), self.config.memory_mb) if peak else 0
        billed = text.billed_ms(duration_ms, init_ms if attempt.init_billed else None)
        self._log(
            self._format.end(
                request_id, status=status, duration_ms=duration_ms, produced_bytes=len(outcome.payload)
            )
        )
        figures = text.ReportFigures(
            duration_ms=duration_ms,
            billed_duration_ms=billed,
            memory_mb=self.config.memory_mb,
            max_memory_used_mb=used_mb,
            init_ms=init_ms,
            status=status,
            platform_error=platform_error,
            error_type=(error_type or outcome.error_type) if platform_error else None,
        )
        self._log(self._format.report(request_id, figures))
        reported_error = (error_type or outcome.error_type) if status != "success" else None
        self._platform(*records.report(request_id, status, figures, attempt.trace_id, reported_error))
        return InvocationResult(
            request_id=request_id,
            payload=outcome.payload,
            content_type=outcome.content_type,
            status=status,
            function_error=outcome.function_error,
            error_type=outcome.error_type if error_type is None else error_type,
            cold=attempt.cold,
            duration_ms=duration_ms,
            billed_duration_ms=billed,
            init_duration_ms=init_ms,
            memory_size_mb=self.config.memory_mb,
            max_memory_used_mb=used_mb,
            log_lines=self._tail.lines(),
            dropped_log_lines=self._tail.dropped,
            phases=attempt.phases,
            streamed=outcome.streamed,
            fidelity=dict(self._fidelity_dict),
            extensions_overhead_ms=overhead_ms,
            emf=tuple(self._emf),
        )
