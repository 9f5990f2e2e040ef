"""`coldlab serve`: a local Lambda platform for many functions and environments, speaking the AWS API."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from coldlab.config import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
from coldlab.errors import Terminated, UsageError
from coldlab.platform.limits import ACCOUNT_MAX, KeepAlive, default_account_limit
from coldlab.platform.pool import PoolEvent
from coldlab.platform.spec import FunctionSpec, spec_from_path

if TYPE_CHECKING:
    from coldlab.gateway.server import Gateway
    from coldlab.platform.service import LambdaService
    from coldlab.store.db import StateDb

PREFIX = "coldlab serve:"
FLUSH_AFTER_S = 0.005  # terminal lines are written at most this late


class _Terminal:
    """The server's terminal lines, written in batches a few milliseconds apart: a warm invoke logs four lines
    or more (START, the function's, END, REPORT), and a write each was a syscall each on the invoke's path."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._scheduled = False

    def line(self, text: str) -> None:
        self._lines.append(text)
        if self._scheduled:
            return
        try:  # a moment later, so the write is rarely on an invoke's path (and takes more lines at once)
            asyncio.get_running_loop().call_later(FLUSH_AFTER_S, self.flush)
            self._scheduled = True
        except RuntimeError:  # no loop (starting up, or done): at once
            self.flush()

    def flush(self) -> None:
        self._scheduled = False
        if self._lines:
            text = "\n".join(self._lines) + "\n"
            self._lines.clear()
            sys.stderr.write(text)
            sys.stderr.flush()


_terminal = _Terminal()


def _say(text: str) -> None:
    _terminal.line(f"{PREFIX} {text}")


def _log_sink(name: str) -> Callable[[str], None]:
    def sink(line: str) -> None:
        _terminal.line(f"{name} | {line}")

    return sink


_EVENT_LINES = {
    "cold-start": "cold start: {e.function} {e.version} environment {e.env_id} ({e.detail})",
    "reclaim": "reclaimed: {e.function} {e.version} environment {e.env_id} ({e.detail})",
    "drained": "draining {e.function}: {e.detail} of the old configuration finish, then close",
    "provisioned": "provisioned concurrency ready: {e.function}:{e.version} ({e.detail})",
    "provisioning-failed": "provisioned concurrency FAILED: {e.function}:{e.version} ({e.detail})",
    "event-failed": "Event invoke of {e.function} not run: {e.detail}",
}  # throttles are counted in the status JSON, not printed one by one


def _event_line(event: PoolEvent) -> str | None:
    line = _EVENT_LINES.get(event.kind)
    return None if line is None else line.format(e=event)


def _on_event(event: PoolEvent) -> None:
    line = _event_line(event)
    if line is not None:
        _say(line)


def _specs(
    template: Path | None, overrides: tuple[str, ...], paths: tuple[Path, ...], memory_mb: int, timeout_s: int
) -> list[FunctionSpec]:
    specs: list[FunctionSpec] = []
    if template is not None:
        from coldlab.template import load_template, parse_parameter_overrides

        loaded = load_template(template, parse_parameter_overrides(overrides))
        for warning in loaded.warnings:
            _say(f"warning: {warning}")
        specs.extend(loaded.functions)
    elif overrides:
        raise UsageError("--parameter-overrides needs --template", "give the SAM template with --template")
    specs.extend(spec_from_path(path, memory_mb=memory_mb, timeout_s=timeout_s) for path in paths)
    seen: dict[str, str] = {}
    for spec in specs:
        if spec.name in seen:
            raise UsageError(
                f"two functions are named {spec.name!r} ({seen[spec.name]} and {spec.source})",
                "give each function its own name (rename a directory or set FunctionName)",
            )
        seen[spec.name] = spec.source
    return specs


async def _sweep() -> None:
    """Choose the sandbox host now, not at the first invoke: choosing it removes the cgroups (and kills the
    processes) that coldlab runs killed before they could clean up left behind, a killed server's too."""
    from coldlab.sandbox.select import selection

    chosen = await asyncio.to_thread(selection)
    removed = getattr(chosen.host, "stale_removed", [])
    if removed:
        _say(f"removed the cgroups and processes of {len(removed)} killed coldlab runs: {', '.join(removed)}")


async def _serve(
    specs: list[FunctionSpec],
    *,
    host: str,
    port: int,
    account_limit: int,
    keep_alive: KeepAlive,
    url: bool,
    state: StateDb,
    retry_delay_scale: float,
    shutdown_grace_s: float,
) -> int | None:
    """Serve until SIGINT or SIGTERM; returns the signal that stopped it, once everything is shut down."""
    from coldlab.gateway.server import Gateway
    from coldlab.platform.service import LambdaService

    await _sweep()
    service = LambdaService(
        account_limit=account_limit,
        keep_alive=keep_alive,
        log_sinks=_log_sink,
        on_event=_on_event,
        state=state,
        retry_delay_scale=retry_delay_scale,
        say=_say,
    )
    stop, hurry = asyncio.Event(), asyncio.Event()
    received: list[int] = []
    loop = asyncio.get_running_loop()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(signum: int) -> None:
        # Kept until the clean-up is done: a second signal cuts the grace period short, never the clean-up.
        received.append(signum)
        if not stop.is_set():
            stop.set()
        elif not hurry.is_set():
            hurry.set()
            _say(f"{signal.Signals(signum).name} again: running invokes are stopped now; cleaning up")

    for signum in previous:
        loop.add_signal_handler(signum, on_signal, signum)
    gateway: Gateway | None = None
    try:
        gateway = Gateway(service, specs, url_for_all=url)
        address = await gateway.start(host, port)
        for spec in specs:
            await service.add_spec(spec)
        duplicates = await service.start()
        waiting = service.queued_events()
        _say(f"state {state.state_dir}: {waiting} Event invokes in the queue")
        if duplicates:
            again = ", ".join(f"{name} {count}" for name, count in sorted(duplicates.items()))
            _say(f"Event deliveries the last server's end cut off run again (duplicates): {again}")
        _say(f"listening on {address}")
        _say(f"account concurrency {account_limit}; keep-alive {keep_alive.describe()}")
        _say("an idle environment is reused most recently idle first; a new one is a cold start")
        urls = gateway.urls.url_paths()
        for spec in specs:
            where = f" url {address}{urls[spec.name]}" if spec.name in urls else ""
            _say(f"function {spec.name} ({spec.config.memory_mb} MB, {spec.config.timeout_s} s){where}")
        await stop.wait()
        _say("shutting down")
    finally:
        try:
            await _shut_down(service, gateway, state, shutdown_grace_s, hurry)
        finally:
            for signum, handler in previous.items():
                loop.remove_signal_handler(signum)  # asyncio resets the handler to the default: put ours back
                signal.signal(signum, handler)
    return received[0] if received else None


async def _shut_down(
    service: LambdaService, gateway: Gateway | None, state: StateDb, grace_s: float, hurry: asyncio.Event
) -> None:
    # No new connections; in-flight invokes get the grace period, then are cut off (answered 500).
    stopping = asyncio.ensure_future(gateway.stop()) if gateway is not None else None
    left = await service.quiesce(grace_s, hurry=hurry)
    if left:
        cut = ", cut short by a second signal" if hurry.is_set() else ""
        _say(f"{left} invokes still running after the grace period ({grace_s:g} s{cut}): stopping them")
    count = len(service.pool.slots())
    await service.close()  # every environment's shutdown phase (SIGTERM, extensions' SHUTDOWN) runs here
    if stopping is not None:
        await stopping
    if gateway is not None and gateway.port:  # it listened: say what was shut down
        _say(f"stopped: {count} environments shut down")
        if queued := service.queued_events():
            _say(f"{queued} Event invokes stay queued in {state.state_dir} (delivered at the next start)")


@click.command("serve")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--template", type=click.Path(path_type=Path), help="AWS SAM template (template.yaml)")
@click.option(
    "--parameter-overrides", "overrides", multiple=True, metavar="K=V", help="Template parameter value"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=3001, show_default=True, help="0 picks a free port"
)
@click.option(
    "--memory",
    "memory_mb",
    type=int,
    default=DEFAULT_MEMORY_MB,
    show_default=True,
    help="MB, for PATH functions",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=int,
    default=DEFAULT_TIMEOUT_S,
    show_default=True,
    help="s, for PATH functions",
)
@click.option(
    "--keep-alive",
    "keep_alive",
    default="300,420",
    show_default=True,
    metavar="S|MIN,MAX",
    help="Idle seconds before an environment is reclaimed (MIN,MAX: drawn per environment)",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(1, ACCOUNT_MAX),
    default=None,
    help="Account concurrency limit [default: what this machine's memory holds, at most 1000]",
)
@click.option("--url", is_flag=True, help="Give every function a function URL")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the Event queue and invocation records live [default: ~/.cache/coldlab/serve]",
)
@click.option(
    "--retry-delay-scale",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    default=1.0,
    show_default=True,
    help="Multiply Event retry delays, backoff and maximum event ages (0.01 turns minutes into seconds)",
)
@click.option(
    "--shutdown-grace",
    "shutdown_grace_s",
    type=click.FloatRange(min=0, max=900),
    default=10.0,
    show_default=True,
    help="Seconds running invokes get at Ctrl-C/SIGTERM (then answered 500; Event ones stay queued)",
)
def command(
    *,
    paths: tuple[Path, ...],
    template: Path | None,
    overrides: tuple[str, ...],
    host: str,
    port: int,
    memory_mb: int,
    timeout_s: int,
    keep_alive: str,
    max_concurrency: int | None,
    url: bool,
    state_dir: Path | None,
    retry_delay_scale: float,
    shutdown_grace_s: float,
) -> None:
    """Serve functions (a SAM --template and/or PATHs: directories or zips holding `bootstrap`) on the
    AWS Lambda API, for boto3, the AWS CLI (--endpoint-url) and curl (function URLs).

    Event invokes are durable: queued in --state-dir's database before the 202, retried as Lambda does,
    delivered after a restart. Every invocation's REPORT figures are recorded there (`coldlab records`).

    Ctrl-C or SIGTERM shuts every environment down; queued Event invokes stay queued.
    """
    alive = KeepAlive.parse(keep_alive)
    specs = _specs(template, overrides, paths, memory_mb, timeout_s)
    largest = max((spec.config.memory_mb for spec in specs), default=DEFAULT_MEMORY_MB)
    limit = max_concurrency or default_account_limit(largest)
    from coldlab.store.db import StateDb, default_state_dir

    state = StateDb.open(state_dir if state_dir is not None else default_state_dir())
    try:
        from coldlab.gateway.server import run as run_server  # uvloop when installed

        stopped_by = run_server(
            _serve(
                specs,
                host=host,
                port=port,
                account_limit=limit,
                keep_alive=alive,
                url=url,
                state=state,
                retry_delay_scale=retry_delay_scale,
                shutdown_grace_s=shutdown_grace_s,
            )
        )
    finally:
        _terminal.flush()  # what the last loop turn logged
        state.close()
    # Everything is shut down: now the CLI's one line and exit code, as for every command (143 / 130).
    if stopped_by == signal.SIGTERM:
        raise Terminated
    if stopped_by == signal.SIGINT:
        raise KeyboardInterrupt
