"""The `coldlab` command line. Commands live one per module in this package and are found automatically.

A command module exposes `command` (a click.Command). No logic beyond parsing and printing lives here.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Any

import click

from coldlab import __version__
from coldlab.errors import ColdlabError

_NOT_COMMANDS = {"output"}


class _Commands(click.Group):
    """A group that loads command modules lazily, so `coldlab --help` stays fast."""

    def _modules(self) -> dict[str, str]:
        names = {}
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_") and info.name not in _NOT_COMMANDS:
                names[info.name.replace("_", "-")] = f"{__name__}.{info.name}"
        return names

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._modules())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = self._modules().get(cmd_name)
        if module_name is None:
            return None
        command: click.Command = importlib.import_module(module_name).command
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ColdlabError as exc:
            click.echo(f"coldlab: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("coldlab: interrupted", err=True)
            ctx.exit(130)
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


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="coldlab")
def cli() -> None:
    """coldlab: the serverless runtime contract for Go, on one Linux machine."""


def main() -> None:
    cli.main(prog_name="coldlab")
