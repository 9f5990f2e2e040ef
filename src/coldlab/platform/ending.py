"""How an invocation ends: END and REPORT with their figures, and the result; and the three ways the
platform ends one itself (a timeout, the runtime's exit, an extension's failure), each resetting the sandbox.
`Environment` (environment.py) runs the invoke and calls these."""

from __future__ import annotations

import functools
import time

from coldlab.logs import text
from coldlab.platform import records
from coldlab.platform.attempt import Attempt
from coldlab.platform.extensions import ExtensionExited, extension_line
from coldlab.platform.failures import error_payload, exit_payload, exit_reason, timeout_payload
from coldlab.platform.lifecycle import SandboxLifecycle
from coldlab.platform.result import InvocationResult
from coldlab.runtime.extensions import ExtensionFailed
from coldlab.runtime.model import Outcome
from coldlab.sandbox import Fidelity


class InvocationEnding(SandboxLifecycle):
    """The end of an invocation, on top of the sandbox's lifecycle."""

    @functools.cached_property
    def fidelity(self) -> Fidelity:
        """Fixed by the host and the limits, so worked out once, not on every invoke."""
        return self.host.fidelity(self.limits)

    @functools.cached_property
    def _fidelity_dict(self) -> dict[str, object]:
        return self.fidelity.as_dict()

    async def _finish_extension_failure(
        self, attempt: Attempt, outcome: Outcome | None, event: ExtensionExited | ExtensionFailed
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
            outcome = unhandled(attempt.request_id, payload, error_type)
        result = self._finish(attempt, outcome, status="error", platform_error=True, error_type=error_type)
        await self._destroy("failure")
        return result

    async def _finish_exit(
        self, attempt: Attempt, outcome: Outcome | None, returncode: int
    ) -> InvocationResult:
        ended = time.perf_counter()
        reason = exit_reason(returncode)
        self._output_flush()
        self._log_exit(attempt.request_id, reason)
        if outcome is None:
            payload = exit_payload(attempt.request_id, reason)
            outcome = unhandled(attempt.request_id, payload, "Runtime.ExitError")
        result = self._finish(
            attempt, outcome, status="error", ended=ended, platform_error=True, error_type="Runtime.ExitError"
        )
        await self._destroy()
        return result

    async def _finish_timeout(self, attempt: Attempt, outcome: Outcome | None = None) -> InvocationResult:
        timeout_s = self.config.timeout_s
        self._output_flush()
        self._log(text.timed_out(attempt.request_id, timeout_s))
        if outcome is None:
            payload = timeout_payload(attempt.request_id, timeout_s)
            outcome = unhandled(attempt.request_id, payload, "Sandbox.Timedout")
        # Lambda reports the duration as the timeout itself, however late the kill lands.
        result = self._finish(attempt, outcome, status="timeout", ended=attempt.begun + timeout_s)
        await self._destroy("timeout")
        return result

    def _finish(
        self,
        attempt: Attempt,
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
        peak = self._answer_peak
        if peak is None:
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
        self._platform_record(records.report, request_id, status, figures, attempt.trace_id, reported_error)
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


def unhandled(request_id: str, payload: bytes, error_type: str | None) -> Outcome:
    """The caller's answer for a failure: a JSON error document, X-Amz-Function-Error: Unhandled."""
    return Outcome(request_id, payload, "application/json", "Unhandled", error_type)
