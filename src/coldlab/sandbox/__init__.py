"""Everything the operating system does for an execution environment: spawn, freeze, limit, measure, kill."""

from __future__ import annotations

from coldlab.sandbox.cgroup_v1 import CgroupV1Host
from coldlab.sandbox.cgroup_v2 import CgroupV2Host
from coldlab.sandbox.gomaxprocs import gomaxprocs_advice
from coldlab.sandbox.host import Fidelity, Host, Limits, Sandbox, vcpus_for_memory
from coldlab.sandbox.select import Selection, choose_host, select_host, selection
from coldlab.sandbox.signals import SignalHost

__all__ = [
    "CgroupV1Host",
    "CgroupV2Host",
    "Fidelity",
    "Host",
    "Limits",
    "Sandbox",
    "Selection",
    "SignalHost",
    "choose_host",
    "gomaxprocs_advice",
    "select_host",
    "selection",
    "vcpus_for_memory",
]
