"""The `coldlab` command line. Commands live one per module in this package; each exposes `command`
(a click.Command). No logic beyond parsing and printing lives here.

Three things every command gets from this module, in one place:
- `coldlab --help` lists the commands from a table, without importing their modules (start-up stays fast);
- every bad input, click's usage errors included, ends as ONE line `coldlab: error: ...` and exit 2;
- SIGTERM unwinds exactly as Ctrl-C does (environments killed, cgroups removed, nothing left frozen), then
  `coldlab: terminated` and exit 143 (Ctrl-C: `coldlab: interrupted`, 130).
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import click

from coldlab import __version__
from coldlab.errors import ColdlabError, Terminated

# name -> (module, the first sentence of its help). A test imports every module and compares, so this table
# cannot drift from what the commands say; a command module missing here still works (imported to list it).
COMMANDS: dict[str, tuple[str, str]] = {
    "anatomy": (
        "coldlab.cli.anatomy",
        "Cold-start the function at PATH (a directory or .zip holding `bootstrap`) N times and take it apart "
        "by phase.",
    ),
    "demo": (
        "coldlab.cli.demo",
        "Build examples/hello-go with the Go toolchain and invoke it cold and warm at 128 MB and 1769 MB.",
    ),
    "doctor": (
        "coldlab.cli.doctor",
        "Say which mechanism enforces each part of the Lambda contract here "
        "(freeze, CPU, memory, isolation).",
    ),
    "inspect": (
        "coldlab.cli.inspect",
        "Explain what makes a Go BINARY (a Lambda bootstrap) big and slow to start.",
    ),
    "invoke": (
        "coldlab.cli.invoke",
        "Invoke the bootstrap at PATH (a directory or .zip holding `bootstrap`) like AWS Lambda would.",
    ),
    "lint": (
        "coldlab.cli.lint",
        "Find in Go source the patterns a frozen Lambda process gives up (init network calls, goroutines, "
        "caches, servers, GOMAXPROCS).",
    ),
    "plan": (
        "coldlab.cli.plan",
        "Compare Lambda on-demand, Lambda + provisioned concurrency and Cloud Run for one workload.",
    ),
    "records": (
        "coldlab.cli.records",
        "Print the invocation records `coldlab serve` wrote (REPORT figures of every invocation) and a "
        "summary per function: invokes, cold-start %, p50/p99 duration, GB-s and cost.",
    ),
    "serve": (
        "coldlab.cli.serve",
        "Serve functions (a SAM --template and/or PATHs: directories or zips holding `bootstrap`) on the "
        "AWS Lambda API, for boto3, the AWS CLI (--endpoint-url) and curl (function URLs).",
    ),
    "simulate": (
        "coldlab.cli.simulate",
        "Simulate cold starts, environments, latency and cost for a traffic pattern or trace.",
    ),
    "tune": (
        "coldlab.cli.tune",
        "Power-tune the function at PATH (a directory or .zip holding `bootstrap`), "
        "or --target aws:FUNCTION.",
    ),
}
_NOT_COMMANDS = {"output"}
_STOP_LINES = {signal.SIGINT: "coldlab: interrupted", signal.SIGTERM: "coldlab: terminated"}


def command_modules() -> dict[str, str]:
    """Command name -> module, from the package directory (a listing, not an import, nor pkgutil's cost)."""
    found: dict[str, str] = {}
    for entry in Path(__file__).parent.iterdir():
        stem = entry.name.removesuffix(".py")
        is_module = entry.suffix == ".py" or (entry / "__init__.py").is_file()
        if is_module and stem.isidentifier() and not stem.startswith("_") and stem not in _NOT_COMMANDS:
            found[stem.replace("_", "-")] = f"{__name__}.{stem}"
    return found


class _Commands(click.Group):
    """A group that loads command modules only when one runs (or shows its own --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(command_modules())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = command_modules().get(cmd_name)
        if module_name is None:
            return None
        command: click.Command = importlib.import_module(module_name).command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)  # as click lays the rows out
        rows = []
        for name in names:
            listed = COMMANDS.get(name)
            if listed is not None:  # click's own shortening of the same sentence, on a throwaway command
                rows.append((name, click.Command(name, help=listed[1]).get_short_help_str(limit)))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ColdlabError as exc:
            click.echo(f"coldlab: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (KeyboardInterrupt, Terminated) as exc:  # here, before click turns Ctrl-C into "Aborted!"
            if isinstance(exc, Terminated):  # also raised by a command that took SIGTERM itself (serve)
                _terminated.add(True)
            ctx.exit(_stopped())
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug in coldlab: one line, and the traceback only on request
            if os.environ.get("COLDLAB_DEBUG"):
                raise
            click.echo(
                f"coldlab: internal error: {type(exc).__name__}: {exc} "
                "(this is a bug in coldlab; rerun with COLDLAB_DEBUG=1 for the traceback and report it)",
                err=True,
            )
            ctx.exit(70)

    def main(  # one signature for both of click's overloads
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """click's main, with its multi-line usage errors turned into coldlab's one line, and SIGTERM
        turned into an unwinding exception for as long as a command runs."""
        previous = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
            installed = True
        except ValueError:  # not the main thread (an in-process caller): signals are not ours to take
            installed = False
        _terminated.clear()
        try:
            code = _run_click(super().main, args, prog_name, complete_var, **extra)
        finally:
            if installed:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if standalone_mode:
            sys.exit(code)
        return code


def _run_click(run: Any, args: Sequence[str] | None, prog_name: str | None, *rest: Any, **extra: Any) -> int:
    try:
        returned = run(args, prog_name, *rest, standalone_mode=False, **extra)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `coldlab`: the help, as click shows it
        exc.show()
        return exc.exit_code
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else _command_path(args)
        click.echo(f"coldlab: error: {_one_line(exc.format_message())} (run {where} --help)", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"coldlab: error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, Terminated):  # a signal while click parsed
        return _stopped()
    return returned if isinstance(returned, int) else 0


def _command_path(args: Sequence[str] | None) -> str:
    """`coldlab COMMAND` from the arguments, for errors click raises without a context."""
    given = sys.argv[1:] if args is None else args
    names = command_modules()
    command = next((arg for arg in given if not arg.startswith("-")), None)
    return f"coldlab {command}" if command in names else "coldlab"


def _one_line(message: str) -> str:
    """click's `Invalid value for '--memory': 'abc' is not a valid integer.` in coldlab's style."""
    text = " ".join(message.split()).rstrip(".")
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


# --- signals ---------------------------------------------------------------------------------------------

_terminated: set[bool] = set()  # non-empty once SIGTERM arrived (a set: no global statement needed)


def stop_signal() -> str:
    """Which signal is stopping the command, for documents that record it: "SIGTERM" or "SIGINT"."""
    return "SIGTERM" if _terminated else "SIGINT"


def _stopped() -> int:
    """One line for Ctrl-C or SIGTERM, and its exit code (128 + the signal)."""
    signum = signal.SIGTERM if _terminated else signal.SIGINT
    click.echo(_STOP_LINES[signum], err=True)
    return 128 + signum


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM takes Ctrl-C's path, so the clean-up it gets is the same.

    Inside `asyncio.run`, Ctrl-C cancels the main task (the command's `async with Environment` then kills the
    environment and removes its cgroups) and raises KeyboardInterrupt once the task has unwound: SIGTERM
    asks asyncio's own SIGINT handler for exactly that. Outside a loop it raises Terminated where the command
    is, as Ctrl-C raises KeyboardInterrupt. A second SIGTERM while unwinding is ignored (a second Ctrl-C
    still forces its way, as in Python)."""
    if _terminated:
        return
    _terminated.add(True)
    handler = signal.getsignal(signal.SIGINT)
    if _is_asyncio_runner_handler(handler) and _loop_running():
        assert callable(handler)
        handler(signal.SIGINT, frame)
        return
    raise Terminated


def _is_asyncio_runner_handler(handler: object) -> bool:
    asyncio = sys.modules.get("asyncio")  # not imported: no loop runs (and --help does not pay for it)
    return (
        asyncio is not None
        and isinstance(handler, functools.partial)
        and isinstance(getattr(handler.func, "__self__", None), asyncio.Runner)
    )


def _loop_running() -> bool:
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.events._get_running_loop() is not None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coldlab")
def cli() -> None:
    """coldlab: the serverless runtime contract for Go, on one Linux machine."""


def main() -> None:
    try:
        code = cli.main(prog_name="coldlab", standalone_mode=False)
    except Terminated:  # in the instant between the command's end and the handler's removal
        code = _stopped()
    finally:
        # Clean-up at exit (atexit: cgroups, the zygote) must not be cut short by a second signal.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)
