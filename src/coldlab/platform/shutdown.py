"""The shutdown phase: what an execution environment gets before it is destroyed (lambda-contract §2,
serve-and-cloudrun §7.1-7.2).

With no extension registered the runtime is simply killed: no SIGTERM, so whatever it buffers in memory is
lost. With at least one, the runtime gets SIGTERM and its share of the budget, then SIGKILL; then every
external extension subscribed to SHUTDOWN gets the event and the rest of the budget, then SIGKILL. Budgets:
0 ms with no extensions, 500 ms with internal ones only (all of it the runtime's), 2,000 ms with an external
one, of which the runtime's share is 300 ms (500 ms when an internal one is registered too).

The lines logged are coldlab's own (Lambda logs nothing for a clean shutdown); the cut-off ones use the
words the Runtime Interface Emulator logs (`rapid/shutdown.go`: "Deadline: The runtime did not exit after
deadline ...; Killing it.").
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from coldlab.platform.telemetry import TelemetryHub
from coldlab.runtime.extensions import SHUTDOWN, ExtEffect, ExtensionsCore
from coldlab.sandbox import Sandbox, send_signal
from coldlab.sandbox.host import Child

TELEMETRY_FLUSH_S = 0.2  # of the extensions' share: the runtime's last lines reach subscribers first


@dataclass(frozen=True)
class Budget:
    total_ms: int
    runtime_ms: int


def shutdown_budget(internal: int, external: int) -> Budget:
    if external:
        return Budget(2000, 500 if internal else 300)
    if internal:
        return Budget(500, 500)
    return Budget(0, 0)


@dataclass(frozen=True)
class ShutdownReport:
    """What happened: `runtime` is "exited" (after SIGTERM), "killed", "sigkill" (no SIGTERM: no
    extension) or "not-running"; `extensions` maps each external one to "exited", "killed",
    "not-subscribed" (killed at once) or "not-running"."""

    reason: str
    budget: Budget
    sigterm: bool
    runtime: str
    runtime_ms: float | None
    extensions: Mapping[str, str]
    lines: tuple[str, ...]


async def _exited(child: Child, timeout_s: float) -> bool:
    """Whether `child` ends within `timeout_s`."""
    if child.returncode is not None:
        return True
    waiting = asyncio.ensure_future(child.wait())
    done, _ = await asyncio.wait([waiting], timeout=max(0.0, timeout_s))
    if not done:
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
    return child.returncode is not None


async def run_shutdown(
    *,
    reason: str,
    sandbox: Sandbox,
    extensions: ExtensionsCore,
    externals: Mapping[str, Child],
    send: Callable[[list[ExtEffect]], None],
    hub: TelemetryHub | None,
    log: Callable[[str], None],
) -> ShutdownReport:
    """Run the shutdown phase on a live sandbox and kill what is left of it."""
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        log(line)

    sandbox.thaw()
    runtime = sandbox.process
    registered = extensions.extensions
    internal = sum(1 for ext in registered if ext.internal)
    external = sum(1 for ext in registered if not ext.internal)
    budget = shutdown_budget(internal, external)
    names = ", ".join(ext.name for ext in registered)
    say(
        f"SHUTDOWN Reason: {reason}\tBudget: {budget.total_ms} ms\tRuntime Share: {budget.runtime_ms} ms\t"
        f"Extensions: [{names}]"
    )
    started = time.perf_counter()
    deadline = started + budget.total_ms / 1000
    outcome, runtime_ms, sigterm = "not-running", None, False
    if not registered:
        if send_signal(runtime, signal.SIGKILL):
            outcome = "sigkill"
            say("Runtime: SIGKILL (no extension is registered, so no SIGTERM)")
    elif send_signal(runtime, signal.SIGTERM):
        sigterm = True
        if await _exited(runtime, budget.runtime_ms / 1000):
            outcome, runtime_ms = "exited", (time.perf_counter() - started) * 1000
            say(f"Runtime: SIGTERM, exited after {runtime_ms:.2f} ms")
        else:
            outcome = "killed"
            say(f"Deadline: The runtime did not exit after deadline {budget.runtime_ms} ms; Killing it.")
            send_signal(runtime, signal.SIGKILL)
    states = await _shutdown_externals(reason, extensions, externals, send, hub, deadline, say)
    sandbox.kill()
    return ShutdownReport(reason, budget, sigterm, outcome, runtime_ms, states, tuple(lines))


async def _shutdown_externals(  # noqa: PLR0917 - internal, called once
    reason: str,
    extensions: ExtensionsCore,
    externals: Mapping[str, Child],
    send: Callable[[list[ExtEffect]], None],
    hub: TelemetryHub | None,
    deadline: float,
    say: Callable[[str], None],
) -> dict[str, str]:
    states: dict[str, str] = {}
    waiting: dict[str, Child] = {}
    for name, child in externals.items():
        ext = extensions.by_name(name)
        if child.returncode is not None:
            states[name] = "not-running"
        elif ext is None or not ext.subscribed(SHUTDOWN):
            send_signal(
                child, signal.SIGKILL
            )  # RIE: "not registered for the shutdown event, so just killing it"
            states[name] = "not-subscribed"
            say(f"Extension {name}: SIGKILL (not subscribed to SHUTDOWN)")
        else:
            waiting[name] = child
    if not waiting:
        return states
    if hub is not None:  # the runtime's last lines reach the subscribers before SHUTDOWN does
        await hub.flush(min(TELEMETRY_FLUSH_S, max(0.0, deadline - time.perf_counter())))
    deadline_ms = int((time.time() + max(0.0, deadline - time.perf_counter())) * 1000)
    sent = time.perf_counter()
    send(extensions.shutdown(reason, deadline_ms))
    share_ms = round((deadline - sent) * 1000)
    for name, child in waiting.items():
        if await _exited(child, deadline - time.perf_counter()):
            states[name] = "exited"
            say(f"Extension {name}: SHUTDOWN, exited after {(time.perf_counter() - sent) * 1000:.2f} ms")
        else:
            states[name] = "killed"
            say(f"Deadline: the extension {name} did not exit after deadline {share_ms} ms; Killing it.")
            send_signal(child, signal.SIGKILL)
    if hub is not None and hub.dropped_records:
        say(f"Telemetry: {hub.dropped_records} records dropped (a subscriber was slow or refused them)")
    return states
