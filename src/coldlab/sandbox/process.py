"""Signalling one process of a sandbox (the shutdown phase: SIGTERM to the runtime alone, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os

from coldlab.sandbox.host import Child


def send_signal(child: Child, signum: int) -> bool:
    """Send `signum` to `child` if it still runs; whether it was sent."""
    if child.returncode is not None:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(child.pid, signum)
        return True
    return False
