"""Everything the operating system does for an execution environment: spawn, freeze, limit, measure, kill.

The names below load on first use: the zygote (zygote.py) imports one module of this package and must not
pull in the rest (asyncio, aiohttp's neighbours), or its forks would be as slow as coldlab's own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `X as X`: re-exported for type checkers; at run time __getattr__ below finds them
    from coldlab.sandbox.cgroup_v1 import CgroupV1Host as CgroupV1Host
    from coldlab.sandbox.cgroup_v2 import CgroupV2Host as CgroupV2Host
    from coldlab.sandbox.gomaxprocs import gomaxprocs_advice as gomaxprocs_advice
    from coldlab.sandbox.host import Fidelity as Fidelity
    from coldlab.sandbox.host import Host as Host
    from coldlab.sandbox.host import Limits as Limits
    from coldlab.sandbox.host import PreparedSandbox as PreparedSandbox
    from coldlab.sandbox.host import Sandbox as Sandbox
    from coldlab.sandbox.host import vcpus_for_memory as vcpus_for_memory
    from coldlab.sandbox.process import send_signal as send_signal
    from coldlab.sandbox.select import Selection as Selection
    from coldlab.sandbox.select import choose_host as choose_host
    from coldlab.sandbox.select import select_host as select_host
    from coldlab.sandbox.select import selection as selection
    from coldlab.sandbox.signals import SignalHost as SignalHost

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
    "send_signal": "process",
    "vcpus_for_memory": "host",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"coldlab.sandbox.{_HOMES[name]}"), name)
