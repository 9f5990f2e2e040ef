"""Compare deployment options for one workload by simulating each: Lambda on-demand, Lambda with provisioned
concurrency N (swept), and Cloud Run with min instances M; pick the cheapest that meets a cold-start and
latency constraint; and find the request rate at which provisioned concurrency starts to pay.

Costs are per 30-day month, extrapolated from the simulated horizon (the provisioned standing charge is
exact for a month). The break-even sweep uses steady Poisson traffic with the workload's service-time
distribution and compares on-demand with the cheapest N >= 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from coldlab.pricing import CostBreakdown, PriceTable, pc_break_even_utilisation
from coldlab.sim.bounds import Work
from coldlab.sim.dists import Dist
from coldlab.sim.metrics import RunTotals, histogram_percentile
from coldlab.sim.report import MONTH_S, add_costs, finite, function_cost
from coldlab.sim.runner import FunctionJob, RunConfig, run_jobs
from coldlab.sim.traces import Synthetic

SCHEMA = "coldlab.plan/1"


@dataclass(frozen=True)
class Option:
    kind: str  # lambda, lambda-pc, cloudrun
    label: str
    setting: int
    cost_month: float
    cost: dict[str, float]
    cold_pct: float
    p99_s: float
    throttled_pct: float
    avg_concurrency: float
    meets: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "setting": self.setting,
            "cost_per_month_usd": self.cost_month,
            "cost_breakdown_month_usd": self.cost,
            "cold_pct": self.cold_pct,
            "p99_s": finite(self.p99_s),
            "throttled_pct": self.throttled_pct,
            "meets_constraints": self.meets,
        }


@dataclass(frozen=True)
class Constraints:
    max_cold_pct: float | None = None
    max_p99_s: float | None = None

    def check(self, option: Option) -> bool:
        if option.throttled_pct > 0:
            return False
        if self.max_cold_pct is not None and option.cold_pct > self.max_cold_pct:
            return False
        return not (self.max_p99_s is not None and option.p99_s > self.max_p99_s)


def _evaluate(
    totals: RunTotals, cfg: RunConfig, prices: PriceTable, *, kind: str, label: str, setting: int
) -> Option:
    fs = totals.functions
    horizon = max((f.horizon_s for f in fs), default=0.0) or 1.0
    cost = CostBreakdown()
    for f in fs:
        cost = add_costs(cost, function_cost(f, cfg, prices, round_provisioned=False))
    scale = MONTH_S / horizon
    month = {k: v * scale for k, v in cost.as_dict().items()}
    served = sum(f.served for f in fs)
    arrivals = sum(f.arrivals for f in fs)
    return Option(
        kind=kind,
        label=label,
        setting=setting,
        cost_month=month["total"],
        cost=month,
        cold_pct=100.0 * sum(f.cold_starts for f in fs) / served if served else 0.0,
        p99_s=histogram_percentile(totals.latency, 99),
        throttled_pct=100.0 * sum(f.throttled for f in fs) / arrivals if arrivals else 0.0,
        avg_concurrency=sum(f.busy_s for f in fs) / horizon,
    )


def compare(
    jobs: Callable[[], Iterable[FunctionJob]],
    base: RunConfig,
    prices: PriceTable,
    *,
    pc_values: Sequence[int] | None,
    min_instances: Sequence[int],
    constraints: Constraints,
    workers: int = 1,
    on_run: Callable[[int], None] | None = None,
) -> tuple[list[Option], Option | None]:
    """Simulate every option. `on_run(runs_left)` is called after each run (for a progress bar)."""
    done = on_run or (lambda _left: None)
    on_demand_cfg = replace(base, platform="lambda", lam=replace(base.lam, provisioned=0))
    on_demand = _evaluate(
        run_jobs(jobs(), on_demand_cfg, workers=workers),
        on_demand_cfg,
        prices,
        kind="lambda",
        label="Lambda on-demand",
        setting=0,
    )
    options = [on_demand]
    if pc_values is None:
        pc_values = suggest_pc(on_demand.avg_concurrency)
    pc_values = [n for n in pc_values if 0 < n <= base.lam.concurrency_limit]
    left = len(pc_values) + len(min_instances)
    done(left)
    for n in pc_values:
        cfg = replace(on_demand_cfg, lam=replace(base.lam, provisioned=n))
        options.append(
            _evaluate(
                run_jobs(jobs(), cfg, workers=workers),
                cfg,
                prices,
                kind="lambda-pc",
                label=f"Lambda + provisioned {n}",
                setting=n,
            )
        )
        left -= 1
        done(left)
    for m in min_instances:
        cfg = replace(base, platform="cloudrun", run=replace(base.run, min_instances=m))
        options.append(
            _evaluate(
                run_jobs(jobs(), cfg, workers=workers),
                cfg,
                prices,
                kind="cloudrun",
                label=f"Cloud Run c={base.run.concurrency} min {m}",
                setting=m,
            )
        )
        left -= 1
        done(left)
    options = [replace(o, meets=constraints.check(o)) for o in options]
    feasible = [o for o in options if o.meets]
    best = min(feasible, key=lambda o: o.cost_month) if feasible else None
    return options, best


def suggest_pc(avg_concurrency: float) -> list[int]:
    """N around the mean concurrency (where the 60% utilisation rule bites) and above it."""
    base = max(avg_concurrency, 0.5)
    values = {max(1, math.ceil(base * f)) for f in (0.5, 1.0, 1.25, 1.5, 2.0, 3.0)}
    values.add(max(1, math.ceil(base + 3 * math.sqrt(base))))  # Poisson peak-ish: few spillovers
    return sorted(values)


@dataclass(frozen=True)
class BreakEvenPoint:
    rate: float
    on_demand_month: float
    best_pc_month: float
    best_pc_n: int


@dataclass(frozen=True)
class BreakEven:
    rate: float | None  # req/s where the cheapest N >= 1 first costs less than on-demand
    analytic_rate: float  # first PC environment busy u of the time: rho / (1 + rho) = u (Erlang B, 1 server)
    mean_duration_s: float
    utilisation_threshold: float
    points: tuple[BreakEvenPoint, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "break_even_rate_per_s": self.rate,
            "analytic_rate_per_s": self.analytic_rate,
            "mean_duration_s": self.mean_duration_s,
            "utilisation_threshold": self.utilisation_threshold,
            "points": [p.__dict__ for p in self.points],
        }


PC_TRIES = 5  # provisioned settings tried per break-even rate (at most), besides on-demand


def analytic_break_even(duration: Dist, base: RunConfig, prices: PriceTable) -> float:
    """With provisioned environments used first, the first one is a loss server (M/G/1/1): busy a fraction
    rho / (1 + rho) of the time (insensitive to the service distribution), rho = rate * E[d]. It pays when
    that exceeds the utilisation threshold u: rho > u / (1 - u)."""
    threshold = pc_break_even_utilisation(prices, base.lam.arch)
    mean_d = duration.mean()
    if threshold >= 1 or mean_d <= 0:
        return math.inf
    return threshold / (1 - threshold) / mean_d


def sweep_rates(duration: Dist, base: RunConfig, prices: PriceTable) -> list[float]:
    """The steady rates the break-even sweep tries: 1/8 to 4 times the analytic break-even."""
    analytic = analytic_break_even(duration, base, prices)
    if not math.isfinite(analytic):
        return []
    return [float(r) for r in np.unique(np.round(np.geomspace(analytic / 8, analytic * 4, 13), 3)) if r > 0]


def break_even_work(rates: Sequence[float], horizon_s: float) -> Work:
    runs = len(rates) * (1 + PC_TRIES)
    top = max(rates, default=0.0)
    return Work(
        sum(rates) * horizon_s * (1 + PC_TRIES),
        runs,
        f"break-even sweep up to {top:.3g} req/s x {horizon_s:g} s per point",
    )


def break_even(
    duration: Dist,
    base: RunConfig,
    prices: PriceTable,
    *,
    rates: Sequence[float] | None = None,
    horizon_s: float = 600.0,
    on_point: Callable[[], None] | None = None,
) -> BreakEven:
    """Sweep steady Poisson rates; at each, on-demand vs the cheapest provisioned N >= 1."""
    mean_d = duration.mean()
    threshold = pc_break_even_utilisation(prices, base.lam.arch)
    analytic = analytic_break_even(duration, base, prices)
    if rates is None:
        rates = sweep_rates(duration, base, prices)
    points = []
    for rate in rates:

        def jobs(rate: float = rate) -> list[FunctionJob]:
            return [FunctionJob(0, "f", "f", None, Synthetic("steady", rate, horizon_s, duration), horizon_s)]

        od_cfg = replace(base, platform="lambda", lam=replace(base.lam, provisioned=0))
        od = _evaluate(
            run_jobs(jobs(), od_cfg, workers=1), od_cfg, prices, kind="lambda", label="", setting=0
        )
        best_cost, best_n = math.inf, 0
        for n in sorted({max(1, math.floor(od.avg_concurrency * f)) for f in (0.5, 0.8, 1.0, 1.2)} | {1}):
            cfg = replace(od_cfg, lam=replace(base.lam, provisioned=n))
            pc = _evaluate(
                run_jobs(jobs(), cfg, workers=1), cfg, prices, kind="lambda-pc", label="", setting=n
            )
            if pc.cost_month < best_cost:
                best_cost, best_n = pc.cost_month, n
        points.append(BreakEvenPoint(rate, od.cost_month, best_cost, best_n))
        if on_point is not None:
            on_point()
    crossing = None
    for prev, point in zip([None, *points[:-1]], points, strict=True):
        if point.best_pc_month < point.on_demand_month:
            if prev is None:
                crossing = point.rate
            else:  # interpolate the sign change of (pc - od) in log rate
                d0 = prev.best_pc_month - prev.on_demand_month
                d1 = point.best_pc_month - point.on_demand_month
                frac = d0 / (d0 - d1) if d0 != d1 else 0.0
                crossing = float(
                    math.exp(math.log(prev.rate) + frac * (math.log(point.rate) - math.log(prev.rate)))
                )
            break
    return BreakEven(crossing, analytic, mean_d, threshold, tuple(points))
