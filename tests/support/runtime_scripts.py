"""Helpers for tests that run real bootstraps against a real Runtime API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

# A tiny Runtime API client every scripted bootstrap starts with (stdlib only).
PRELUDE = textwrap.dedent(
    """
    import http.client, json, os, sys, time
    HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    BASE = "/2018-06-01/runtime"

    def call(method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(HOST, int(PORT))
        conn.request(method, BASE + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict(resp.getheaders()), data

    def next_event():
        status, headers, body = call("GET", "/invocation/next")
        return headers["Lambda-Runtime-Aws-Request-Id"], headers, body

    def respond(rid, body, headers=None):
        return call("POST", f"/invocation/{rid}/response", body, headers)
    """
)

ScriptFactory = Callable[[str], Path]
GoBuilder = Callable[..., Path]


def script_python() -> str:
    """An interpreter the function user can run: the system python3 (a venv under /root is out of reach)."""
    system = Path("/usr/bin/python3")
    return str(system) if system.exists() else sys.executable


def write_script_bootstrap(code: Path, body: str) -> Path:
    """Write a Python bootstrap (the prelude + `body`) into the directory `code`; return `code`."""
    code.mkdir(parents=True, exist_ok=True)
    bootstrap = code / "bootstrap"
    bootstrap.write_text(f"#!{script_python()} -u\n{PRELUDE}\n{textwrap.dedent(body)}")
    bootstrap.chmod(0o755)
    return code


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def gone(pids: list[int], timeout_s: float = 10.0) -> bool:
    """Whether every pid is gone within `timeout_s`: a killed process lingers until its parent (the zygote,
    or init for an orphan) reaps it, so poll instead of racing that."""
    deadline = time.monotonic() + timeout_s
    while any(pid_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


PYTHON_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python-ric"
_CLIENT_MODULES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")


def vendored_python_example(dest: Path) -> Path:
    """A copy of examples/python-ric with awslambdaric (and its dependencies) vendored in ./vendor.

    Copied from this interpreter's site-packages, so no network is needed; the function then runs with the
    system `python3`, which an unprivileged function user can execute (a virtualenv under /root may not be).
    """
    import importlib
    import shutil

    shutil.copytree(PYTHON_EXAMPLE, dest, ignore=shutil.ignore_patterns("vendor", "__pycache__"))
    vendor = dest / "vendor"
    vendor.mkdir()
    for name in _CLIENT_MODULES:
        module = importlib.import_module(name)
        source = Path(module.__file__ or "")
        if source.name == "__init__.py":
            shutil.copytree(source.parent, vendor / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, vendor / source.name)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() or path.name == "bootstrap" else 0o644)
    return dest
