"""Init's CPU allowance: from exec to the runtime's first /next, more CPU than the memory size buys.

Why: published real-Lambda figures for a Go hello world show Init Duration flat across memory sizes (49.4,
49.6, 50.6 ms at 128, 512, 1024 MB on x86_64; reference lambda-contract §12.2, maxday/lambda-perf) while the
warm Duration follows memory; a third-party claim says init "gets two unthrottled vCPUs, even at the lowest
memory configurations" (§9, bitesizedserverless). A CFS quota of memory/1769 vCPU from the first instruction
makes coldlab's init follow memory instead (hello-go: ~50 ms at 128 MB, ~4 ms from 512 MB). So the hosts start
a sandbox at `Limits.init_cpu_vcpus` and lift it back to the memory's quota at the first /next
(`Sandbox.end_init`). The allowance is unverified on Lambda: configurable, and named in every fidelity.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coldlab.errors import UsageError
from coldlab.sandbox import cgroupfs
from coldlab.sandbox.host import MAX_VCPUS, Limits

INIT_CPU_VAR = "COLDLAB_INIT_CPU"
DEFAULT_INIT_VCPUS = 1.0  # the 1,769 MB quota: enough for the flat init the published figures show
_OFF = ("memory", "off", "none")


def init_cpu_allowance(setting: str | None = None) -> float | None:
    """vCPUs granted from exec to the first /next: `setting` (or $COLDLAB_INIT_CPU) is a number of vCPUs, or
    "memory" for no allowance (init then runs at the memory's quota throughout). Default: 1 vCPU."""
    raw = (os.environ.get(INIT_CPU_VAR, "") if setting is None else setting).strip().lower()
    if raw in _OFF:
        return None
    if not raw:
        return DEFAULT_INIT_VCPUS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_VCPUS:
        where = f"{INIT_CPU_VAR}={raw!r}" if setting is None else f"init CPU {raw!r}"
        hint = f"use vCPUs above 0 and up to {MAX_VCPUS} (1 = the 1769 MB quota), or 'memory' for none"
        raise UsageError(f"{where} is not an init CPU allowance", hint)
    return value


def init_cpu_text(limits: Limits, cpus: int) -> str:
    """Fidelity's `init_cpu` for a host with a CPU quota ("" when init gets what invoke gets)."""
    if limits.init_vcpus is None:
        return f"the memory's quota, as invoke ({INIT_CPU_VAR}=memory)"
    granted, after = min(limits.init_cpu_vcpus, float(cpus)), min(limits.vcpus, float(cpus))
    if granted <= after:
        return ""
    return (
        f"{granted:.3f} vCPU from exec to the runtime's first /next (init CPU allowance "
        f"{limits.init_vcpus:g} vCPU; Lambda's Init Duration does not follow memory), then {after:.3f} vCPU"
    )


@dataclass(frozen=True)
class QuotaLift:
    """What `end_init` writes: the memory's quota, into the file that held init's allowance."""

    path: Path
    value: str

    def apply(self) -> None:
        cgroupfs.write(self.path, self.value)


def init_quota_vcpus(limits: Limits, cpus: int) -> tuple[float, float]:
    """(vCPUs during init, vCPUs after the first /next), both capped at this machine's CPUs."""
    return min(limits.init_cpu_vcpus, float(cpus)), min(limits.vcpus, float(cpus))
