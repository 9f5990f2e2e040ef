"""The load and fault soak, short: 500 invokes at concurrency 32 over three hello-go functions (128 MB), 5%
crashing, timing out or killed for memory, 10% Event. The same `soak()` as benchmarks/serve_soak.py (10,000
invokes), the same invariants; no timings asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from coldlab.sandbox import Limits, select_host
from support.runtime_scripts import GoBuilder

pytestmark = [pytest.mark.go, pytest.mark.slow]

INVOKES = 500


def load_benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_soak.py"
    spec = importlib.util.spec_from_file_location("serve_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_soak"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_500_invokes_with_faults_and_events_keep_every_invariant(go_build: GoBuilder, tmp_path: Path) -> None:
    fidelity = select_host().fidelity(Limits(memory_mb=128))
    if "not-limited" in fidelity.memory or "not-limited" in fidelity.freeze:
        pytest.skip(f"the soak needs memory limits (OOM kills) and the freezer: {fidelity.memory}")
    soak = load_benchmark()
    calls = soak.plan(INVOKES, 13)
    events = [call for call in calls if call.asynchronous]
    faults = [call for call in calls if call.kind != "ok"]
    assert len(events) == 50 and len(faults) == 25
    assert {call.kind for call in faults} == {"crash", "timeout", "oom"}
    assert any(call.kind != "ok" for call in events)  # some Event invokes fault and are retried

    result = soak.soak(go_build("hello-go"), tmp_path, invokes=INVOKES, concurrency=32, seed=13)

    assert result.problems == []
    sync = [call for call in calls if not call.asynchronous]
    for kind in ("ok", "crash", "timeout", "oom"):
        assert result.answered.get(kind, 0) == sum(1 for call in sync if call.kind == kind), kind
    assert result.answered["event"] == len(events)
    assert result.event_ids == len(events)  # every 202 named its request id
    assert result.events_delivered == len(events)
    assert result.durable  # retries and destinations were configured and checked
    assert result.exit_code == 143 and result.leftovers == []  # SIGTERM, after a clean shutdown
    assert result.processes_seen > 3 and result.run_dirs_seen > 0  # the leftover check had things to find
    assert result.rss_ratio <= 1 + soak.RSS_TOLERANCE
