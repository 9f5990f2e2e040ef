"""Everything the operating system does for an execution environment: spawn, freeze, limit, measure, kill."""

from __future__ import annotations

from coldlab.sandbox.host import Fidelity, Host, Limits, Sandbox, vcpus_for_memory
from coldlab.sandbox.signals import SignalHost


def select_host() -> Host:
    """The most faithful host this machine supports (the resource-shaping work adds cgroup hosts here)."""
    return SignalHost()


__all__ = ["Fidelity", "Host", "Limits", "Sandbox", "SignalHost", "select_host", "vcpus_for_memory"]
