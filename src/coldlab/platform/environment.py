"""One Lambda execution environment: init → invoke → freeze → ... → shutdown, with Lambda's reports.

The platform wires the Runtime API (pure core + HTTP adapter) to the sandbox Host; neither knows the other.
Timings use the monotonic clock; log lines follow `coldlab.logs.text` byte for byte.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from coldlab.config import FunctionConfig
from coldlab.logs import log_format as make_log_format
from coldlab.logs import text
from coldlab.platform.code import CodePackage, load_code
from coldlab.platform.envvars import lambda_environment, log_stream_name
from coldlab.platform.output import OutputPipe
from coldlab.platform.result import ColdStartPhases, InvocationResult
from coldlab.platform.spare import Spare
from coldlab.runtime.core import InitFailed, Resolved, RuntimeReady
from coldlab.runtime.model import Invocation, Outcome
from coldlab.runtime.server import PlatformEffect, RuntimeApiServer
from coldlab.sandbox import Fidelity, Host, Limits, PreparedSandbox, Sandbox, select_host

INIT_TIMEOUT_S = 10.0  # Lambda's init phase limit for on-demand functions (reference §5)
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Go's os.ProcessState wording for the signals a bootstrap typically dies of.
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGFPE: "floating point exception",
}


@dataclass(frozen=True)
class _Exited:
    returncode: int


_Event = PlatformEffect | _Exited


def exit_reason(returncode: int) -> str:
    """`exit status 2` or `signal: killed`, as Lambda (Go) words it."""
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        signum = signal.Signals(-returncode)
    except ValueError:
        return f"signal: {-returncode}"
    return f"signal: {_SIGNAL_WORDS.get(signum, signum.name.lower())}"


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}, separators=(",", ":")).encode()


def _exit_payload(request_id: str, reason: str) -> bytes:
    message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
    return _error_payload("Runtime.ExitError", message)


@dataclass(frozen=True)
class _Attempt:
    """One invocation in flight: its id, when its invoke phase began, and what init it carried."""

    request_id: str
    begun: float
    init_ms: float | None
    cold: bool
    phases: ColdStartPhases | None


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
    init (cold); later invokes reuse the frozen process (warm) until a crash or timeout resets it.
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
    ) -> None:
        self.config = config
        self.host = host or select_host()
        self.limits = Limits(
            memory_mb=config.memory_mb,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
            cpu_visibility=cpu_visibility,
        )
        self._log_sink = log_sink
        self._format = make_log_format(
            log_format, function_name=config.function_name, version=config.version, region=config.region
        )
        self._initialization_type = initialization_type
        self._init_timeout_s = init_timeout_s
        self._server = RuntimeApiServer(self._on_effect)
        self._code: CodePackage | None = None
        self._sandbox: Sandbox | None = None
        self._output: OutputPipe | None = None
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._exit_watch: asyncio.Task[None] | None = None
        self._initialized_once = False
        self._lines: list[str] = []
        self._lock = asyncio.Lock()
        self._freeze_handle: asyncio.Handle | None = None
        # prepare_sandbox=False makes every sandbox on the invoke's path instead (see spare.py)
        self._spare = Spare(self._prepare, enabled=prepare_sandbox)
        self._log_stream = log_stream_name(config.version)
        self.runtime_api = ""

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
        self.runtime_api = await self._server.start()
        self._spare.refill()
        await self._spare.ready()  # a failure is reported by the first invoke

    async def close(self) -> None:
        self._spare.close()
        self._destroy()
        await self._server.close()
        if self._code is not None:
            self._code.cleanup()

    # --- logging -------------------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        self._lines.append(line)
        if self._log_sink is not None:
            self._log_sink(line)

    def _on_effect(self, effect: PlatformEffect) -> None:
        self._events.put_nowait(effect)

    # --- sandbox lifecycle -----------------------------------------------------------------------------

    async def _prepare(self) -> tuple[PreparedSandbox, OutputPipe]:
        """A sandbox whose process is set up and waits to exec the bootstrap, and the pipe it writes to."""
        output = OutputPipe(self._log)
        env = lambda_environment(
            self.config,
            runtime_api=self.runtime_api,
            task_root=str(self.code.root),
            log_stream=self._log_stream,
            credentials={k: os.environ[k] for k in _CREDENTIAL_VARS if k in os.environ},
            initialization_type=self._initialization_type,
        )
        if self._format.name == "JSON":  # Lambda tells the runtime which format it logs in (reference §4.2)
            env.update({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
        try:
            prepared = await self.host.prepare(
                [str(self.code.bootstrap)], env, self.code.root, self.limits, output.write_fd
            )
        except BaseException:
            output.close()
            raise
        return prepared, output

    async def _spawn(self) -> float:
        """Start the bootstrap (in the prepared sandbox if there is one); the monotonic time of its exec."""
        self._server.reset()
        self._events = asyncio.Queue()
        prepared, output = await self._spare.take()
        started = time.perf_counter()
        try:
            sandbox = await prepared.start()
        except BaseException:
            output.close()
            raise
        output.close_write_end()
        self._sandbox, self._output = sandbox, output
        events = self._events

        async def watch_exit() -> None:
            events.put_nowait(_Exited(await sandbox.process.wait()))

        self._exit_watch = asyncio.create_task(watch_exit())
        return started

    def _schedule_freeze(self) -> None:
        """Freeze once the caller has its answer (Lambda freezes after the response, not before it)."""
        self._freeze_handle = asyncio.get_running_loop().call_soon(self._freeze_now)

    def _freeze_now(self) -> None:
        self._freeze_handle = None
        if self._sandbox is not None:
            self._sandbox.freeze()

    def _thaw(self, sandbox: Sandbox) -> None:
        if self._freeze_handle is not None:  # the next invoke came before the freeze ran: never frozen
            self._freeze_handle.cancel()
            self._freeze_handle = None
        else:
            sandbox.thaw()

    def _destroy(self) -> None:
        """Kill the sandbox and release it (after a crash, timeout, failed init, or at shutdown)."""
        if self._freeze_handle is not None:
            self._freeze_handle.cancel()
            self._freeze_handle = None
        if self._sandbox is not None:
            self._sandbox.thaw()  # a frozen process group must run to die cleanly and flush its output
            self._sandbox.kill()
            self._sandbox.close()
            self._sandbox = None
        if self._exit_watch is not None:
            self._exit_watch.cancel()
            self._exit_watch = None
        if self._output is not None:
            self._output.close()
            self._output = None

    async def _next_event(self, deadline: float) -> _Event | None:
        """The next platform event, or None when the monotonic `deadline` passes first."""
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return self._events.get_nowait() if not self._events.empty() else None
        try:
            return await asyncio.wait_for(self._events.get(), remaining)
        except TimeoutError:
            return None

    async def _initialize(self, accepted: float, deadline_s: float) -> _InitResult:
        """Spawn and wait for the first `/next`, an init error, an exit, or the deadline."""
        started = await self._spawn()
        spawned = time.perf_counter()
        deadline = started + deadline_s
        while True:
            event = await self._next_event(deadline)
            now = time.perf_counter()
            elapsed_ms = (now - started) * 1000
            phases = ColdStartPhases((spawned - accepted) * 1000, (now - spawned) * 1000)
            if event is None:
                return _InitResult(elapsed_ms, phases, "timeout")
            if isinstance(event, RuntimeReady):
                return _InitResult(elapsed_ms, phases, "success")
            if isinstance(event, InitFailed):
                failure = event.failure
                return _InitResult(elapsed_ms, phases, "error", failure.error_type, failure.payload)
            if isinstance(event, _Exited):
                reason = exit_reason(event.returncode)
                return _InitResult(elapsed_ms, phases, "error", "Runtime.ExitError", exit_reason=reason)

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
            try:
                return await self._invoke(payload, request_id, client_context, cognito_identity)
            finally:
                if self._sandbox is None:  # reset (crash, timeout, failed init): have the next one ready
                    self._spare.refill()

    async def _invoke(
        self, payload: bytes, request_id: str | None, client_context: str | None, cognito_identity: str | None
    ) -> InvocationResult:
        self._lines = []
        accepted = time.perf_counter()
        if self._sandbox is not None and self._sandbox.process.returncode is not None:
            self._destroy()  # died while frozen (e.g. killed for memory): re-init inside this invoke
        cold = self._sandbox is None
        init_ms, phases = await self._init_phase(accepted) if cold else (None, None)
        attempt = _Attempt(request_id or str(uuid.uuid4()), time.perf_counter(), init_ms, cold, phases)
        self._log(self._format.start(attempt.request_id))
        if self._sandbox is None:
            failed = await self._suppressed_init(attempt)
            if failed is not None:
                return failed
        else:
            self._thaw(self._sandbox)
        invocation = self._invocation(attempt.request_id, payload, client_context, cognito_identity)
        return await self._run(attempt, invocation)

    async def _init_phase(self, accepted: float) -> tuple[float | None, ColdStartPhases | None]:
        """The first init of this environment (INIT_START, capped at 10 s). Failure leaves no sandbox."""
        if self._initialized_once:
            return None, None  # after a reset, init is re-run inside the invoke instead (suppressed)
        self._initialized_once = True
        self._log(self._format.init_start())
        init = await self._initialize(accepted, self._init_timeout_s)
        if init.status == "success":
            return init.duration_ms, init.phases
        self._output_flush()
        self._log(
            self._format.init_report(
                init.duration_ms, phase="init", status=init.status, error_type=init.error_type
            )
        )
        self._destroy()
        return None, None

    async def _suppressed_init(self, attempt: _Attempt) -> InvocationResult | None:
        """Init re-run inside the invoke, bounded by the function timeout; a result only if it failed."""
        init = await self._initialize(attempt.begun, float(self.config.timeout_s))
        if init.status == "success":
            return None
        if init.status == "timeout":
            return self._finish_timeout(attempt)
        self._output_flush()
        self._log(
            self._format.init_report(
                init.duration_ms, phase="invoke", status="error", error_type=init.error_type
            )
        )
        payload = init.payload
        if init.exit_reason is not None:
            self._log_exit(attempt.request_id, init.exit_reason)
            payload = payload or _exit_payload(attempt.request_id, init.exit_reason)
        outcome = Outcome(attempt.request_id, payload, "application/json", "Unhandled", init.error_type)
        result = self._finish(attempt, outcome, status="error", platform_error=True)
        self._destroy()
        return result

    async def _run(self, attempt: _Attempt, invocation: Invocation) -> InvocationResult:
        """Hand the event over and wait for the answer and the runtime's next `/next` (or a failure)."""
        self._server.submit(invocation)
        deadline = attempt.begun + self.config.timeout_s
        outcome: Outcome | None = None
        while True:
            event = await self._next_event(deadline)
            if event is None:
                return self._finish_timeout(attempt, outcome)
            if isinstance(event, Resolved):
                outcome = event.outcome
            elif isinstance(event, RuntimeReady) and outcome is not None and self._sandbox is not None:
                ended = time.perf_counter()
                self._schedule_freeze()
                status = "success" if outcome.ok else "error"
                return self._finish(attempt, outcome, status=status, ended=ended)
            elif isinstance(event, _Exited):
                ended = time.perf_counter()
                reason = exit_reason(event.returncode)
                self._output_flush()
                self._log_exit(attempt.request_id, reason)
                if outcome is None:
                    outcome = Outcome(
                        attempt.request_id,
                        _exit_payload(attempt.request_id, reason),
                        "application/json",
                        "Unhandled",
                        "Runtime.ExitError",
                    )
                result = self._finish(
                    attempt,
                    outcome,
                    status="error",
                    ended=ended,
                    platform_error=True,
                    error_type="Runtime.ExitError",
                )
                self._destroy()
                return result

    def _invocation(
        self,
        request_id: str,
        payload: bytes,
        client_context: str | None,
        cognito_identity: str | None,
    ) -> Invocation:
        now = time.time()
        timeout_s = self.config.timeout_s
        trace = f"Root=1-{int(now):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"
        return Invocation(
            request_id=request_id,
            payload=payload,
            deadline_ms=int((now + timeout_s) * 1000),
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

    def _finish_timeout(self, attempt: _Attempt, outcome: Outcome | None = None) -> InvocationResult:
        timeout_s = self.config.timeout_s
        self._output_flush()
        self._log(text.timed_out(attempt.request_id, timeout_s))
        if outcome is None:
            message = f"RequestId: {attempt.request_id} Error: Task timed out after {timeout_s:.2f} seconds"
            outcome = Outcome(
                attempt.request_id,
                _error_payload("Sandbox.Timedout", message),
                "application/json",
                "Unhandled",
                "Sandbox.Timedout",
            )
        # Lambda reports the duration as the timeout itself, however late the kill lands.
        result = self._finish(attempt, outcome, status="timeout", ended=attempt.begun + timeout_s)
        self._destroy()
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
    ) -> InvocationResult:
        duration_ms = ((ended or time.perf_counter()) - attempt.begun) * 1000
        init_ms = attempt.init_ms
        self._output_flush()
        request_id = outcome.request_id
        peak = self._sandbox.peak_memory_bytes() if self._sandbox is not None else 0
        used_mb = min(text.memory_used_mb(peak), self.config.memory_mb) if peak else 0
        billed = text.billed_ms(duration_ms, init_ms)
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
            log_lines=tuple(self._lines),
            phases=attempt.phases,
            streamed=outcome.streamed,
            fidelity=dict(self._fidelity_dict),
        )
