"""Everything the operating system does for an execution environment: spawn, freeze, limit, measure, kill.

The names below load on first use: the zygote (zygote.py) imports one module of this package and must not
pull in the rest (asyncio, aiohttp's neighbours), or its forks would be as slow as coldlab's own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coldlab.sandbox.cgroup_v1 import CgroupV1Host
    from coldlab.sandbox.cgroup_v2 import CgroupV2Host
    from coldlab.sandbox.gomaxprocs import gomaxprocs_advice
    from coldlab.sandbox.host import Fidelity, Host, Limits, PreparedSandbox, Sandbox, vcpus_for_memory
    from coldlab.sandbox.select import Selection, choose_host, select_host, selection
    from coldlab.sandbox.signals import SignalHost

_HOMES = {
    "CgroupV1Host": "cgroup_v1",
    "CgroupV2Host": "cgroup_v2",
    "Fidelity": "host",
    "Host": "host",
    "Limits": "host",
    "PreparedSandbox": "host",
    "Sandbox": "host",
    "Selection": "select",
    "SignalHost": "signals",
    "choose_host": "select",
    "gomaxprocs_advice": "gomaxprocs",
    "select_host": "select",
    "selection": "select",
    "vcpus_for_memory": "host",
}
__all__ = [
    "CgroupV1Host",
    "CgroupV2Host",
    "Fidelity",
    "Host",
    "Limits",
    "PreparedSandbox",
    "Sandbox",
    "Selection",
    "SignalHost",
    "choose_host",
    "gomaxprocs_advice",
    "select_host",
    "selection",
    "vcpus_for_memory",
]


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"coldlab.sandbox.{_HOMES[name]}"), name)
