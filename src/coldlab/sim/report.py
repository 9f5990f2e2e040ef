"""Turn merged results into the numbers people ask for: cold starts (overall, per function, across apps),
latency percentiles, environments, idle GB-seconds, throttles and a cost breakdown; as one JSON document."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from coldlab.pricing import CostBreakdown, PriceTable, cloud_run_cost, lambda_cost
from coldlab.sim.metrics import FunctionResult, RunTotals, histogram_percentile
from coldlab.sim.runner import RunConfig

SCHEMA = "coldlab.simulate/1"
MONTH_S = 30 * 86400.0


def function_cost(
    result: FunctionResult, cfg: RunConfig, prices: PriceTable, *, round_provisioned: bool = True
) -> CostBreakdown:
    """The bill for one simulated function. Provisioned time is rounded up to 5 minutes unless the caller
    extrapolates to a month (where the rounding vanishes)."""
    if cfg.platform == "cloudrun":
        return cloud_run_cost(
            prices,
            vcpu=cfg.run.vcpu,
            memory_gib=result.memory_mb / 1024.0,
            requests=result.served,
            active_instance_seconds=result.extra.get("active_instance_s", 0.0),
            idle_min_instance_seconds=result.extra.get("idle_min_instance_s", 0.0),
            billing=cfg.run.billing,
        )
    gb = result.gb
    step = prices.provisioned_rounding_s if round_provisioned else 0
    pc_seconds = math.ceil(result.horizon_s / step - 1e-9) * step if step else result.horizon_s
    return lambda_cost(
        prices,
        requests=result.served,
        duration_gb_seconds=result.billed_ms / 1000.0 * gb,
        init_gb_seconds=result.billed_init_ms / 1000.0 * gb,
        provisioned_duration_gb_seconds=result.billed_pc_ms / 1000.0 * gb,
        provisioned_gb_seconds=result.provisioned * gb * pc_seconds,
        arch=cfg.lam.arch,
    )


def finite(value: float) -> float | None:
    """JSON has no NaN: an undefined figure (no requests) is null."""
    return value if math.isfinite(value) else None


def add_costs(a: CostBreakdown, b: CostBreakdown) -> CostBreakdown:
    return CostBreakdown(
        requests=a.requests + b.requests,
        duration=a.duration + b.duration,
        init=a.init + b.init,
        provisioned=a.provisioned + b.provisioned,
        idle=a.idle + b.idle,
        storage=a.storage + b.storage,
    )


def app_cold_percentiles(functions: list[FunctionResult]) -> dict[str, float]:
    """Cold-start % per app (cold starts / served, summed over its functions), then percentiles over apps
    (the SITW metric is the 75th-percentile app)."""
    cold: dict[str, int] = defaultdict(int)
    served: dict[str, int] = defaultdict(int)
    for f in functions:
        cold[f.app] += f.cold_starts
        served[f.app] += f.served
    pct = np.array([100.0 * cold[a] / served[a] for a in served if served[a]])
    if len(pct) == 0:
        return {}
    return {f"p{q}": float(np.percentile(pct, q)) for q in (50, 75, 90, 99)} | {"apps": float(len(pct))}


def build_report(
    totals: RunTotals,
    cfg: RunConfig,
    prices: PriceTable,
    *,
    inputs: dict[str, Any],
    notes: list[str],
    max_functions: int = 50,
) -> dict[str, Any]:
    fs = totals.functions
    horizon = max((f.horizon_s for f in fs), default=0.0)
    cost = CostBreakdown()
    for f in fs:
        cost = add_costs(cost, function_cost(f, cfg, prices))
    served = sum(f.served for f in fs)
    arrivals = sum(f.arrivals for f in fs)
    cold = sum(f.cold_starts for f in fs)
    env_s = sum(f.env_s for f in fs)
    idle_gb_s = sum(f.idle_s * f.gb for f in fs)
    lat = {f"p{q}": finite(histogram_percentile(totals.latency, q)) for q in (50, 95, 99)}
    timeline = totals.timeline
    peak_bin = 0.0
    if timeline is not None and len(timeline.env_seconds):
        peak_bin = float(np.max(timeline.env_seconds) / timeline.bin_s)
    model: dict[str, Any]
    if cfg.platform == "cloudrun":
        r = cfg.run
        model = {
            "concurrency": r.concurrency,
            "min_instances": r.min_instances,
            "max_instances": r.max_instances,
            "vcpu": r.vcpu,
            "memory_mb": r.memory_mb,
            "billing": r.billing,
            "target": r.target,
        }
    else:
        m = cfg.lam
        model = {
            "memory_mb": m.memory_mb,
            "arch": m.arch,
            "provisioned": m.provisioned,
            "reserved": m.reserved,
            "account_limit": m.account_limit,
            "burst": f"{m.burst} per {m.burst_window_s:g} s",
            "recycle_s": m.recycle_s,
            "routing": m.routing,
            "init_billed": m.init_billed,
        }
    ordered = sorted(fs, key=lambda f: -f.served)
    return {
        "schema": SCHEMA,
        "platform": cfg.platform,
        "model": model,
        "keep_alive": cfg.policy.describe()
        if cfg.platform == "lambda"
        else "Cloud Run autoscaler (15 min idle)",
        "cold_start_penalty": cfg.cold.describe() if cfg.cold is not None else "none",
        "seed": cfg.seed,
        "inputs": inputs,
        "horizon_s": horizon,
        "functions_simulated": len(fs),
        "fast_path_functions": sum(1 for f in fs if f.fast_path),
        "totals": {
            "arrivals": arrivals,
            "served": served,
            "throttled": sum(f.throttled for f in fs),
            "cold_starts": cold,
            "cold_pct": 100.0 * cold / served if served else 0.0,
            "environments_created": sum(f.envs_created for f in fs),
            "avg_environments": env_s / horizon if horizon else 0.0,
            "peak_environments_sum_of_functions": sum(f.peak_envs for f in fs),
            "peak_environments_bin_avg": peak_bin,
            "prewarms": sum(f.prewarms for f in fs),
            "spillover": sum(f.spillover for f in fs),
            "busy_gb_s": sum(f.busy_s * f.gb for f in fs),
            "idle_gb_s": idle_gb_s,
            "queue_wait_s": sum(f.queue_s for f in fs),
        },
        "latency_s": lat,
        "latency_note": "log histogram, 100 bins/decade (about ±1.2%); includes cold penalty and queueing",
        "cold_pct_across_apps": app_cold_percentiles(fs),
        "cost_usd": cost.as_dict(),
        "cost_per_million_requests_usd": cost.total / served * 1e6 if served else 0.0,
        "cost_per_month_usd": cost.total * MONTH_S / horizon if horizon else 0.0,
        "prices": {"date": prices.date, "origin": prices.origin, "region": prices.region},
        "functions": [f.summary() for f in ordered[:max_functions]],
        "functions_omitted": max(0, len(fs) - max_functions),
        "notes": notes,
    }
