"""External extensions of one sandbox: started in it before the runtime, their output logged, their exits
watched; and the lines and records Lambda writes about extensions (reference lambda-contract §4.1, §7.4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.logs.text import iso_now
from coldlab.platform.layers import ExternalExtension
from coldlab.platform.output import OutputPipe
from coldlab.runtime.telemetry import record
from coldlab.sandbox import PreparedSandbox
from coldlab.sandbox.host import Child

# What extensions do not see of the runtime's environment (reference §6; RIE extensionExcludedKeys).
EXCLUDED_VARS = frozenset(
    {
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_PORT",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
        "_HANDLER",
    }
)


@dataclass(frozen=True)
class ExtensionExited:
    """An external extension's process ended (outside the shutdown phase this fails the environment)."""

    name: str
    returncode: int


def extension_environment(runtime_env: Mapping[str, str]) -> dict[str, str]:
    return {key: value for key, value in runtime_env.items() if key not in EXCLUDED_VARS}


class ExtensionProcesses:
    """The external extensions started in one sandbox."""

    def __init__(self, found: Sequence[ExternalExtension], on_line: Callable[[str], None]) -> None:
        self.found = tuple(found)
        self.children: dict[str, Child] = {}
        self._on_line = on_line
        self._output: OutputPipe | None = None
        self._watches: list[asyncio.Task[None]] = []

    @property
    def names(self) -> frozenset[str]:
        return frozenset(ext.name for ext in self.found)

    async def start(
        self,
        prepared: PreparedSandbox,
        env: Mapping[str, str],
        cwd: Path,
        events: asyncio.Queue[Any],
    ) -> None:
        """Start every extension in `prepared` (before its runtime); exits go to `events`. SandboxError
        (the extension cannot be started) propagates: Lambda's Extension.LaunchError."""
        if not self.found:
            return
        self._output = OutputPipe(self._on_line)
        for ext in self.found:
            child = await prepared.start_companion([str(ext.path)], env, cwd, self._output.write_fd)
            self.children[ext.name] = child
            self._watches.append(asyncio.create_task(_watch(ext.name, child, events)))
        self._output.close_write_end()

    def flush(self) -> None:
        if self._output is not None:
            self._output.flush()

    async def close(self) -> None:
        for watch in self._watches:
            watch.cancel()
        await asyncio.gather(*self._watches, return_exceptions=True)
        self._watches.clear()
        if self._output is not None:
            self._output.close()
            self._output = None
        self.children = {}


async def _watch(name: str, child: Child, events: asyncio.Queue[Any]) -> None:
    events.put_nowait(ExtensionExited(name, await child.wait()))


def _events_text(events: Sequence[str]) -> str:
    return "[" + ", ".join(events) + "]"


def extension_line(
    name: str, state: str, events: Sequence[str], *, json_format: bool, error_type: str | None = None
) -> str:
    """`EXTENSION\\tName: x\\tState: Ready\\tEvents: [INVOKE]` (or its platform.extension record)."""
    if json_format:
        body: dict[str, Any] = {"name": name, "state": state, "events": list(events)}
        if error_type is not None:
            body["errorType"] = error_type
        return record(iso_now(), "platform.extension", body)
    line = f"EXTENSION\tName: {name}\tState: {state}\tEvents: {_events_text(events)}"
    return line + (f"\tError Type: {error_type}" if error_type else "")


def telemetry_line(name: str, types: Sequence[str], *, json_format: bool) -> str:
    """`TELEMETRY\\tName: x\\tState: Subscribed\\tTypes: [Platform, Function, Extension]`."""
    if json_format:
        body = {"name": name, "state": "Subscribed", "types": list(types)}
        return record(iso_now(), "platform.telemetrySubscription", body)
    shown = ", ".join(t.capitalize() for t in types)
    return f"TELEMETRY\tName: {name}\tState: Subscribed\tTypes: [{shown}]"


def crash_lines(request_id: str | None, name: str, reason: str) -> list[str]:
    """What coldlab logs when an extension dies outside the shutdown phase (shaped like a runtime exit)."""
    prefix = f"RequestId: {request_id} " if request_id else ""
    return [f"{prefix}Error: Extension {name} exited with error: {reason}", "Extension.Crash"]
