"""Choosing the most faithful Host this machine allows, and saying why (once per run, never silently).

Order: cgroup v2 when /sys/fs/cgroup is a pure v2 mount; else cgroup v1 (cpu, memory, freezer); else the v2
`unified` mount of a hybrid machine (freeze and kill only); else the unprivileged fallback (SIGSTOP, rlimits).
`COLDLAB_SANDBOX=cgroup-v1|cgroup-v2|unprivileged` forces one (falling back, with a reason, if it fails).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from coldlab.errors import ColdlabError, UsageError
from coldlab.sandbox.cgroup_v1 import CgroupV1Host
from coldlab.sandbox.cgroup_v2 import CgroupV2Host
from coldlab.sandbox.host import Host, Limits
from coldlab.sandbox.signals import SignalHost

CGROUP_ROOT = Path("/sys/fs/cgroup")
ENV_VAR = "COLDLAB_SANDBOX"
CHOICES = ("auto", "cgroup-v1", "cgroup-v2", "unprivileged")
log = logging.getLogger("coldlab.sandbox")


@dataclass(frozen=True)
class Selection:
    """The host in use, why, and what was tried before it."""

    host: Host
    reason: str
    tried: tuple[str, ...]  # "<host>: <why it was not used>"
    degraded: bool  # CPU or memory is not limited: durations and memory are not Lambda's

    @property
    def notice(self) -> str | None:
        """The one-line warning a run prints when it falls back (None when everything is enforced)."""
        if not self.degraded:
            return None
        fidelity = self.host.fidelity(Limits(memory_mb=128))
        refused = f" after {'; '.join(self.tried)}" if self.tried else ""
        return (
            f"resource shaping is degraded: {self.host.name} host{refused}; "
            f"freeze={fidelity.freeze}, cpu={fidelity.cpu}, memory={fidelity.memory}"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "host": self.host.name,
            "reason": self.reason,
            "tried": list(self.tried),
            "degraded": self.degraded,
        }


def _candidates(root: Path, prefer: str) -> list[tuple[str, Path]]:
    pure_v2 = (root / "cgroup.controllers").exists()
    auto = [("cgroup-v2", root)] if pure_v2 else [("cgroup-v1", root), ("cgroup-v2", root / "unified")]
    if prefer == "cgroup-v1":
        return [("cgroup-v1", root), *(c for c in auto if c[0] != "cgroup-v1")]
    if prefer == "cgroup-v2":
        v2 = [c for c in auto if c[0] == "cgroup-v2"]
        return [*v2, *(c for c in auto if c[0] != "cgroup-v2")]
    if prefer == "unprivileged":
        return []
    return auto


def choose_host(root: Path = CGROUP_ROOT, prefer: str | None = None) -> Selection:
    """Try the hosts in order of fidelity; every refusal is recorded as a reason."""
    prefer = prefer or os.environ.get(ENV_VAR, "auto") or "auto"
    if prefer not in CHOICES:
        raise UsageError(f"{ENV_VAR}={prefer!r} is not a sandbox kind", f"use one of {', '.join(CHOICES)}")
    tried: list[str] = []
    for kind, path in _candidates(root, prefer):
        try:
            host: Host = CgroupV1Host(path) if kind == "cgroup-v1" else CgroupV2Host(path)
        except (ColdlabError, OSError) as exc:
            tried.append(f"{kind}: {exc}")
            continue
        fidelity = host.fidelity(Limits(memory_mb=128))
        degraded = "not-limited" in fidelity.cpu or "not-limited" in fidelity.memory
        return Selection(host, getattr(host, "reason", kind), tuple(tried), degraded)
    reason = "asked for by COLDLAB_SANDBOX" if prefer == "unprivileged" else "no usable cgroups"
    if os.geteuid() != 0 and prefer != "unprivileged":
        reason = "not running as root, no writable cgroups"
    return Selection(SignalHost(reason), reason, tuple(tried), degraded=True)


_selection: Selection | None = None


def selection(*, refresh: bool = False) -> Selection:
    """The host for this run, chosen once per process (a fallback is also logged, at INFO)."""
    global _selection  # noqa: PLW0603 (one choice per run, by design)
    if _selection is None or refresh:
        _selection = choose_host()
        if _selection.notice:
            log.info("coldlab: %s", _selection.notice)  # the CLI prints it (once per run)
    return _selection


def select_host() -> Host:
    """The most faithful host this machine supports (see `selection()` for why)."""
    return selection().host
