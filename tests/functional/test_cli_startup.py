"""`coldlab --help` and the light commands' --help import neither the platform nor the heavy libraries.

What is imported is asserted, not how long it takes (benchmarks/cli_startup.py prints the times).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from coldlab import logs
from coldlab.cli import COMMANDS, cli, command_modules
from coldlab.cli import invoke as invoke_cli

HEAVY = ("aiohttp", "numpy", "matplotlib", "rich", "elftools", "boto3", "coldlab.platform", "coldlab.runtime")

# Runs `coldlab ARGS` in a fresh interpreter and prints the modules it ended up with.
PROBE = """
import contextlib, io, json, sys
sys.argv = ["coldlab", *sys.argv[1:]]
from coldlab.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main()
    except SystemExit as exit:
        code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules), "out": out.getvalue()}))
"""


def loaded_by(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    "args", [["--help"], *([name, "--help"] for name in ("invoke", "simulate", "plan", "doctor"))]
)
def test_help_does_not_import_heavy_modules(args: list[str]) -> None:
    probe = loaded_by(*args)
    assert probe["code"] == 0
    modules = probe["modules"]
    assert isinstance(modules, list)
    heavy = [m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY)]
    assert heavy == []
    assert "Usage: coldlab" in str(probe["out"])


def test_top_level_help_imports_no_command_module() -> None:
    modules = loaded_by("--help")["modules"]
    assert isinstance(modules, list)
    assert [m for m in modules if m.startswith("coldlab.cli.")] == []
    assert "asyncio" not in modules


def test_the_command_table_says_what_every_command_module_says() -> None:
    modules = command_modules()
    assert set(COMMANDS) == set(modules), "add the new command to coldlab.cli.COMMANDS (or drop a gone one)"
    for name, (module_name, sentence) in COMMANDS.items():
        assert module_name == modules[name]
        command = importlib.import_module(module_name).command
        assert isinstance(command, click.Command)
        assert command.name == name
        assert not command.hidden
        for limit in (45, 60, 80, 1000):  # the listing shortens the table's sentence as click would the help
            assert click.Command(name, help=sentence).get_short_help_str(limit) == command.get_short_help_str(
                limit
            )


def test_the_listing_is_the_one_click_would_print() -> None:
    """The table-driven listing equals click's own, made from the imported commands."""
    group = click.Group("coldlab", help=cli.help)
    for name in cli.list_commands(click.Context(cli)):
        group.add_command(importlib.import_module(COMMANDS[name][0]).command, name)
    fast = cli.get_help(click.Context(cli, info_name="coldlab"))
    slow = group.get_help(click.Context(group, info_name="coldlab"))
    assert fast.split("Commands:")[1] == slow.split("Commands:")[1]


def test_invoke_spells_the_log_formats_as_the_logs_package_does() -> None:
    assert invoke_cli.LOG_FORMATS == logs.LOG_FORMATS
