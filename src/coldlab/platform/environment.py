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
import itertools
import os
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from coldlab.config import FunctionConfig
from coldlab.errors import CodeError
from coldlab.logs import log_format as make_log_format
from coldlab.platform import records
from coldlab.platform.attempt import Attempt
from coldlab.platform.code import CodePackage, load_code
from coldlab.platform.emf import EmfRecord
from coldlab.platform.ending import InvocationEnding, unhandled
from coldlab.platform.envvars import log_stream_name
from coldlab.platform.event_queue import EventQueue, Exited
from coldlab.platform.extensions import (
    ExtensionExited,
    ExtensionProcesses,
)
from coldlab.platform.failures import exit_payload
from coldlab.platform.layers import LayerSet, external_extensions, load_layers
from coldlab.platform.lifecycle import PreparedRuntime
from coldlab.platform.logtail import LogTail
from coldlab.platform.output import OutputPipe
from coldlab.platform.result import ColdStartPhases, InitOutcome, InvocationResult
from coldlab.platform.shutdown import ShutdownReport
from coldlab.platform.spare import Spare
from coldlab.platform.telemetry import TelemetryHub
from coldlab.runtime.core import Resolved, RuntimeReady
from coldlab.runtime.extensions import (
    MAX_EXTENSIONS,
    ExtensionFailed,
    FunctionFacts,
    invoke_event,
)
from coldlab.runtime.model import Invocation, Outcome
from coldlab.runtime.server import PlatformEffect, RuntimeApiServer
from coldlab.sandbox import Host, Limits, PreparedSandbox, Sandbox, select_host
from coldlab.sandbox.initcpu import init_cpu_allowance

INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit for on-demand functions (reference §5)
_ids = itertools.count(1)


class Environment(InvocationEnding):
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
        self._events = EventQueue()
        self._exit_watch: asyncio.Task[None] | None = None
        self._initialized_once = False
        self._init_ahead_ms: float | None = None  # an init run by `initialize()`, shown on the next REPORT
        self._last_init_error: str | None = None
        self._tail = LogTail()
        self._lock = asyncio.Lock()
        self._queued = 0  # invokes waiting for the lock
        self._busy = False
        self._on_response: Callable[[Outcome], None] | None = None
        self._answer_now: Callable[[Outcome], None] | None = None  # on_response while _run waits
        self._answer_by = 0.0  # ... and the invoke's deadline while one runs (a later answer is dropped)
        self._closed = False
        self.freezes = 0  # how many times the sandbox was frozen (benchmarks count them)
        self._frozen = False
        self._answer_peak: int | None = None  # the memory peak read when the runtime answered
        # prepare_sandbox=False makes every sandbox on the invoke's path instead (see spare.py)
        self._spare: Spare[PreparedRuntime] = Spare(self._prepare, enabled=prepare_sandbox)
        self._log_stream = log_stream_name(config.version)
        self.runtime_api = ""  # the current sandbox's Runtime API endpoint

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
        try:
            async with self._lock:  # an invoke under way finishes first
                await self._destroy("spindown")
            await self._server.close()
        finally:  # a second Ctrl-C during the shutdown phase must not leave the unzipped code behind
            if self._code is not None:
                self._code.cleanup()
            self._layers.cleanup()

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
        on_response: Callable[[Outcome], None] | None = None,
    ) -> InvocationResult:
        """Run one invocation; cold (with init) when no initialized process exists.

        `on_response` is called with the runtime's answer as soon as it is posted, before the runtime and
        the extensions are back on `next` and the environment is frozen: a front door can answer its
        caller there, as Lambda does. The result (with END and REPORT) comes when the invoke is complete.
        """
        # Made now, off the invoke's path when it waits for the environment (the trace's time: the arrival)
        request_id = request_id or str(uuid.uuid4())
        trace_id = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)}"
        trace_id += ";Sampled=0"
        self._queued += 1  # while the invoke before this one finishes, it knows not to freeze
        try:
            await self._lock.acquire()
        finally:
            self._queued -= 1
        try:
            self._busy = True
            self._on_response = on_response
            try:
                result = await self._invoke(payload, request_id, trace_id, client_context, cognito_identity)
            finally:
                self._busy = False
                self._on_response = None
                if self._sandbox is None and not self._closed:  # reset (crash, timeout, failed init)
                    self._spare.refill()
        finally:
            self._lock.release()
        if self._queued:  # the invoke queued on this environment goes first, this caller's bookkeeping after
            await asyncio.sleep(0)
        return result

    async def _invoke(
        self,
        payload: bytes,
        request_id: str,
        trace_id: str,
        client_context: str | None,
        cognito_identity: str | None,
    ) -> InvocationResult:
        self._tail = LogTail()
        self._emf = []
        self._answer_peak = None
        accepted = time.perf_counter()
        if self._sandbox is not None and self._sandbox.process.returncode is not None:
            await self._destroy()  # died while frozen (e.g. killed for memory): re-init inside this invoke
        self._thaw()  # first: the runtime's threads wake on the other core while the invocation is made
        cold = self._sandbox is None
        init_ms, phases = await self._init_phase(accepted) if cold else (None, None)
        init_billed = True
        if self._init_ahead_ms is not None:
            init_ms, self._init_ahead_ms, init_billed = self._init_ahead_ms, None, False
        begun, wall = time.perf_counter(), time.time()
        timeout_s = self.config.timeout_s
        # The runtime gets whole milliseconds; the kill is timed to that same instant, not up to 1 ms later.
        deadline_ms = int((wall + timeout_s) * 1000)
        attempt = Attempt(
            request_id,
            begun,
            begun + (deadline_ms / 1000 - wall),
            deadline_ms,
            init_ms,
            init_billed,
            cold,
            phases,
            trace_id,
        )
        log_start = self._sandbox is not None  # START follows the hand-over, or comes before a re-init
        if not log_start:
            self._log_start(attempt)
            failed = await self._suppressed_init(attempt)
            if failed is not None:
                return failed
        invocation = self._invocation(attempt, payload, client_context, cognito_identity)
        return await self._run(attempt, invocation, log_start=log_start)

    def _log_start(self, attempt: Attempt) -> None:
        self._log(self._format.start(attempt.request_id))
        self._platform_record(records.start, attempt.request_id, self.config.version, attempt.trace_id)

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

    async def _suppressed_init(self, attempt: Attempt) -> InvocationResult | None:
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
        outcome = unhandled(attempt.request_id, payload, init.error_type)
        result = self._finish(attempt, outcome, status="error", platform_error=True)
        await self._destroy()
        return result

    def _on_effect(self, effect: PlatformEffect) -> None:
        """The caller's answer is handed over inside the runtime's `POST /response` itself, not one loop
        turn later when the invoke's task wakes; the invoke still sees the Resolved event as before.

        An answer posted at or after the deadline is dropped: the kill is due, and the caller gets
        Sandbox.Timedout whichever of the two the event loop happens to look at first."""
        if type(effect) is Resolved and self._answer_by:
            if time.perf_counter() >= self._answer_by:
                return
            answer, self._answer_now = self._answer_now, None
            if answer is not None:
                answer(effect.outcome)
        super()._on_effect(effect)

    async def _run(self, attempt: Attempt, invocation: Invocation, *, log_start: bool) -> InvocationResult:
        """Hand the event to the runtime and the INVOKE-subscribed extensions, and wait until the runtime has
        answered and it and every extension are back on `next` (or a failure, or the deadline)."""
        self._answer_now, self._answer_by = self._on_response, attempt.deadline
        try:
            return await self._run_until_done(attempt, invocation, log_start)
        finally:
            self._answer_now, self._answer_by = None, 0.0

    async def _run_until_done(
        self, attempt: Attempt, invocation: Invocation, log_start: bool
    ) -> InvocationResult:
        self._server.submit(invocation)
        if log_start:  # after the hand-over, still before any line the function writes is read
            self._log_start(attempt)
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
                self._platform_record(records.runtime_done, attempt, outcome, time.perf_counter())
                # Read now, while the runtime turns back to /next (and before a runtime that reports a panic
                # exits, as aws-lambda-go does): END/REPORT then need no read of their own, unless
                # extensions may still work after the response.
                self._answer_peak = self._peak_now()
            elif isinstance(event, RuntimeReady) and outcome is not None and self._sandbox is not None:
                runtime_done = time.perf_counter()
            elif isinstance(event, Exited):
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
        """Freeze unless the next invocation is already waiting for this environment (it runs at once, as
        Lambda hands a queued event to a runtime that is back on `/next`)."""
        if self._queued:
            return
        if self._hub is not None:
            await self._hub.pause()
            if self._queued:  # came while the telemetry deliveries settled
                self._hub.resume()
                return
        self._freeze()

    def _invocation(
        self, attempt: Attempt, payload: bytes, client_context: str | None, cognito_identity: str | None
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
