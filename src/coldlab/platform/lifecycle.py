"""The sandbox side of an execution environment: preparing and starting sandboxes (external extensions
first, then the runtime once they have registered), the init phase, the platform's events and log lines, and
destroying a sandbox through the shutdown phase. `Environment` (environment.py) builds the invoke on this.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.logs import LogFormat, text
from coldlab.platform import records
from coldlab.platform.attempt import InitResult, RegistrationFailed
from coldlab.platform.code import CodePackage
from coldlab.platform.emf import EmfRecord, scan_emf
from coldlab.platform.envvars import lambda_environment
from coldlab.platform.event_queue import Event, EventQueue, Exited
from coldlab.platform.extensions import (
    ExtensionExited,
    ExtensionProcesses,
    crash_lines,
    extension_environment,
    extension_line,
    telemetry_line,
)
from coldlab.platform.failures import error_payload, exit_reason
from coldlab.platform.layers import LayerSet
from coldlab.platform.logtail import LogTail
from coldlab.platform.output import OutputPipe
from coldlab.platform.result import ColdStartPhases
from coldlab.platform.shutdown import ShutdownReport, run_shutdown
from coldlab.platform.spare import Spare
from coldlab.platform.telemetry import TelemetryHub
from coldlab.runtime.core import InitFailed, RuntimeReady
from coldlab.runtime.extensions import ExtensionFailed, ExtensionWaiting
from coldlab.runtime.server import PlatformEffect, RuntimeApiServer, Subscribed
from coldlab.sandbox import Host, Limits, PreparedSandbox, Sandbox

_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass
class PreparedRuntime:
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


class SandboxLifecycle:
    """Sandboxes, init and the shutdown phase for one environment (its state is set by Environment)."""

    config: FunctionConfig
    host: Host
    id: str
    limits: Limits
    freezes: int
    _frozen: bool  # the current sandbox is frozen (by this environment)
    _answer_peak: int | None
    runtime_api: str
    last_shutdown: ShutdownReport | None
    _log_sink: Callable[[str], None] | None
    _format: LogFormat
    _initialization_type: str
    _server: RuntimeApiServer
    _code: CodePackage | None
    _layers: LayerSet
    _extensions: ExtensionProcesses
    _hub: TelemetryHub | None
    _unstarted: PreparedSandbox | None
    _emf: list[EmfRecord]
    _sandbox: Sandbox | None
    _output: OutputPipe | None
    _events: EventQueue
    _exit_watch: asyncio.Task[None] | None
    _tail: LogTail
    _spare: Spare[PreparedRuntime]
    _log_stream: str

    @property
    def code(self) -> CodePackage:
        if self._code is None:
            raise RuntimeError("the environment is not started")
        return self._code

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

    def _platform_record(self, build: Callable[..., records.Record], *args: Any) -> None:
        """Build a `platform.*` record only when someone listens: most invokes have no subscriber, and
        building one (ISO times, spans) would cost every invoke tens of microseconds."""
        if self._hub is not None and self._hub.listening:
            self._hub.emit(*build(*args))

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

    async def _prepare(self) -> PreparedRuntime:
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
        return PreparedRuntime(prepared, output, endpoint, self._server, env)

    async def _spawn(self, limit_s: float, deadline: float, phase: str) -> tuple[float, InitResult | None]:
        """Start the external extensions, wait for them to register, then start the bootstrap (all in the
        prepared sandbox). The monotonic time of the first exec, and a failed init's result if it failed
        before the bootstrap could start. Init ends `limit_s` after that exec, or at `deadline` if given."""
        self._events = EventQueue()
        prepared = await self._spare.take()
        self._server.reset(prepared.endpoint, self._extensions.names)
        self._hub = TelemetryHub()
        self._platform_record(records.init_start, self.config, self._initialization_type, phase, self.id)
        self.runtime_api = prepared.endpoint
        started = time.perf_counter()
        deadline = deadline or started + limit_s
        try:
            await self._extensions.start(
                prepared.sandbox, extension_environment(prepared.env), self.code.root, self._events
            )
            failed = await self._await_registration(started, deadline)
            if failed is not None:
                raise RegistrationFailed(failed)
            sandbox = await prepared.sandbox.start()
        except RegistrationFailed as stop:  # destroyed by the caller, with a shutdown phase
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
        self._frozen = False
        events = self._events

        async def watch_exit() -> None:
            events.put_nowait(Exited(await sandbox.process.wait()))

        self._exit_watch = asyncio.create_task(watch_exit())
        return started, None

    def _freeze(self) -> None:
        """The runtime waits on `/next` with nothing queued: freeze it now, as Lambda does."""
        if self._sandbox is not None:
            self._sandbox.freeze()
            self._frozen = True
            self.freezes += 1

    def _thaw(self) -> None:
        """Before an invoke: thaw what was frozen (one queued behind the last invoke finds it running)."""
        if self._frozen and self._sandbox is not None:
            self._sandbox.thaw()
            self._frozen = False
            if self._hub is not None:
                self._hub.resume()

    async def _await_registration(self, started: float, deadline: float) -> InitResult | None:
        """Wait until every external extension has registered (Lambda starts the runtime only then)."""
        expected = self._extensions.names
        while self._server.extensions.unregistered_external(expected):
            event = await self._next_event(deadline)
            elapsed = (time.perf_counter() - started) * 1000
            phases = ColdStartPhases(0.0, elapsed)
            if event is None:
                return InitResult(elapsed, phases, "timeout")
            if isinstance(event, ExtensionExited):
                return self._crash_result(elapsed, phases, event)
            if isinstance(event, ExtensionFailed):
                return InitResult(elapsed, phases, "error", event.error_type, event.payload)
        return None

    def _crash_result(self, elapsed_ms: float, phases: ColdStartPhases, event: ExtensionExited) -> InitResult:
        self._extension_crashed(None, event)
        message = f"Error: Extension {event.name} exited with error: {exit_reason(event.returncode)}"
        return InitResult(
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

    def _peak_now(self) -> int | None:
        """The peak now, to stand for the whole invocation's; None when extensions run (they may still use
        memory after the response) or there is no sandbox."""
        if self._sandbox is None or self._extensions.names:
            self._sample_peak()
            return None
        return self._sandbox.peak_memory_bytes()

    async def _next_event(self, deadline: float) -> Event | None:
        """The next platform event, or None when the monotonic `deadline` passes first."""
        return await self._events.next_before(deadline)

    async def _initialize(
        self, accepted: float, *, limit_s: float = 0.0, deadline: float = 0.0, phase: str = "init"
    ) -> InitResult:
        """Spawn and wait until the runtime and every extension wait on `next` (or an init error, an exit,
        or the end of the init budget: `limit_s` after the first exec, or the monotonic `deadline`)."""
        result = await self._await_init(accepted, limit_s, deadline, phase)
        kind = self._initialization_type
        self._platform_record(records.init_runtime_done, kind, phase, result.status, result.error_type)
        self._platform_record(records.init_report, kind, phase, result.duration_ms, result.status)
        if self._hub is not None:
            self._hub.end_backlog()
        return result

    async def _await_init(  # noqa: PLR0911 - one return per way init ends
        self, accepted: float, limit_s: float, deadline: float, phase: str
    ) -> InitResult:
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
                return InitResult(elapsed_ms, phases, "timeout")
            if isinstance(event, RuntimeReady):
                runtime_ready = True
                self._server.extensions.close_registration()
                self._sample_peak()
                if self._sandbox is not None:
                    self._sandbox.end_init()  # init's CPU allowance ends here (sandbox/initcpu.py)
            if runtime_ready and isinstance(event, RuntimeReady | ExtensionWaiting):
                if self._server.extensions.all_waiting():
                    self._sample_peak()
                    return InitResult(elapsed_ms, phases, "success")
            elif isinstance(event, InitFailed):
                failure = event.failure
                return InitResult(elapsed_ms, phases, "error", failure.error_type, failure.payload)
            elif isinstance(event, ExtensionFailed):
                return InitResult(elapsed_ms, phases, "error", event.error_type, event.payload)
            elif isinstance(event, Exited):
                reason = exit_reason(event.returncode)
                return InitResult(elapsed_ms, phases, "error", "Runtime.ExitError", exit_reason=reason)
            elif isinstance(event, ExtensionExited):
                return self._crash_result(elapsed_ms, phases, event)

    def _log_exit(self, request_id: str, reason: str) -> None:
        for line in text.runtime_exited(request_id, reason):
            self._log(line)

    def _output_flush(self) -> None:
        if self._output is not None:
            self._output.flush()
