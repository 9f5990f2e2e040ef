"""Power tuning: plan (data) → execute (local or AWS backend) → analyse → report and chart."""

from __future__ import annotations

from coldlab.tune.analysis import Analysis, analyse
from coldlab.tune.backends import Backend, Sample, SizeWork
from coldlab.tune.plan import Plan, Target, build_plan
from coldlab.tune.run import Execution, Observer, execute

__all__ = [
    "Analysis",
    "Backend",
    "Execution",
    "Observer",
    "Plan",
    "Sample",
    "SizeWork",
    "Target",
    "analyse",
    "build_plan",
    "execute",
]
