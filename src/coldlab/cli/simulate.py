"""`coldlab simulate`: cold starts, environments, latency and cost of a traffic pattern or trace on Lambda or
Cloud Run. The option helpers here are shared with `coldlab plan`."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from coldlab.cli._progress import LazyProgress
from coldlab.cli._sim_inputs import (
    DEFAULT_COLD_MS,
    SNAPSTART_NOTE,
    build_jobs,
    check_common,
    cold_dist,
    input_options,
    parse_seconds,
)
from coldlab.cli.output import err_console, print_json
from coldlab.errors import UsageError

__all__ = [
    "DEFAULT_COLD_MS",
    "SNAPSTART_NOTE",
    "build_jobs",
    "cold_dist",
    "command",
    "input_options",
    "parse_seconds",
]


def run_with_progress(
    jobs: Iterable[Any], cfg: Any, *, workers: int, show: bool, horizon_s: float | None = None
) -> Any:
    """Simulate with a progress bar that appears after about a second: functions done for multi-function
    inputs, simulated time for a synthetic pattern, requests for a one-function trace."""
    from coldlab.sim.runner import run_jobs

    if workers > 1 or (isinstance(jobs, list) and len(jobs) > 1):
        total = len(jobs) if isinstance(jobs, list) else None
        with LazyProgress("simulating", "functions", total=total, show=show) as bar:
            return run_jobs(jobs, cfg, workers=workers, progress=lambda _r: bar.update(advance=1))
    if horizon_s is not None:
        with LazyProgress("simulating", "% of simulated time", total=horizon_s, show=show) as bar:
            return run_jobs(jobs, cfg, workers=1, on_chunk=lambda _n, t: bar.update(t))
    with LazyProgress("simulating", "requests", total=None, show=show) as bar:
        return run_jobs(jobs, cfg, workers=1, on_chunk=lambda n, _t: bar.update(advance=n))


@click.command("simulate")
@input_options
@click.option("--platform", type=click.Choice(["lambda", "cloudrun"]), default="lambda", show_default=True)
@click.option(
    "--keep-alive",
    type=click.Choice(["none", "fixed", "hybrid"]),
    default="fixed",
    show_default=True,
    help="Lambda keep-alive policy (fixed uses --idle-timeout; hybrid = Shahrad et al. ATC'20)",
)
@click.option("--hybrid-range", default="4h", show_default=True, help="Hybrid histogram range")
@click.option(
    "--provisioned",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Lambda provisioned concurrency",
)
@click.option("--reserved", type=click.IntRange(1), help="Lambda reserved concurrency (throttles above it)")
@click.option(
    "--recycle-hours", type=float, help="Recycle Lambda environments older than this (off by default)"
)
@click.option(
    "--routing",
    type=click.Choice(["mru", "newest"]),
    default="mru",
    show_default=True,
    help="Which idle Lambda environment serves: most recently idle, or newest created (SimFaaS)",
)
@click.option(
    "--snapstart",
    "snapstart",
    metavar="RESTORE_MS",
    help="What-if: replace the cold start by a SnapStart-style restore of this distribution (ms)",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=80,
    show_default=True,
    help="Cloud Run requests per instance",
)
@click.option("--min-instances", type=click.IntRange(0), default=0, show_default=True)
@click.option("--max-instances", type=click.IntRange(1), default=100, show_default=True)
@click.option("--vcpu", type=float, default=1.0, show_default=True, help="Cloud Run vCPUs per instance")
@click.option(
    "--billing",
    type=click.Choice(["request", "instance"]),
    default="request",
    show_default=True,
    help="Cloud Run billing model",
)
@click.option("--bin", "bin_s", default="60", show_default=True, help="Timeline bin for the chart and JSON")
@click.option("--png", type=click.Path(path_type=Path), help="Write a chart of environments and cold starts")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.simulate/1)")
def command(**opts: Any) -> None:
    """Simulate cold starts, environments, latency and cost for a traffic pattern or trace."""
    with tempfile.TemporaryDirectory(prefix="coldlab-sim-") as workdir:
        _simulate(opts, Path(workdir))


def _simulate(opts: dict[str, Any], workdir: Path) -> None:
    from coldlab.pricing import load_prices
    from coldlab.sim.bounds import MAX_HYBRID_RANGE_S
    from coldlab.sim.cloudrun import CloudRunModel
    from coldlab.sim.lambda_des import LambdaModel
    from coldlab.sim.policies import HybridParams, PolicySpec, validate_policy
    from coldlab.sim.report import build_report
    from coldlab.sim.runner import RunConfig

    check_common(opts)
    _check_models(opts)
    prices = load_prices(opts["prices_path"])
    cold, notes = cold_dist(opts, opts["snapstart"])
    hybrid_range = parse_seconds(opts["hybrid_range"], "--hybrid-range")
    if hybrid_range > MAX_HYBRID_RANGE_S:
        raise UsageError(
            f"--hybrid-range must be at most {MAX_HYBRID_RANGE_S / 86400:g}d "
            f"({MAX_HYBRID_RANGE_S / 60:.0f} one-minute bins), got {opts['hybrid_range']!r}"
        )
    policy = PolicySpec(opts["keep_alive"], opts["idle_timeout"], HybridParams(range_s=hybrid_range))
    validate_policy(policy)
    recycle = opts["recycle_hours"] * 3600 if opts["recycle_hours"] else None
    jobs, inputs, multi = build_jobs(opts, workdir)
    cfg = RunConfig(
        platform=opts["platform"],
        lam=LambdaModel(
            memory_mb=opts["memory_mb"],
            arch=opts["arch"],
            provisioned=opts["provisioned"],
            reserved=opts["reserved"],
            recycle_s=recycle,
            routing=opts["routing"],
        ),
        run=CloudRunModel(
            concurrency=opts["concurrency"],
            min_instances=opts["min_instances"],
            max_instances=opts["max_instances"],
            vcpu=opts["vcpu"],
            memory_mb=opts["memory_mb"],
            billing=opts["billing"],
        ),
        policy=policy,
        cold=cold,
        seed=opts["seed"],
        bin_s=parse_seconds(opts["bin_s"], "--bin"),
        fast=not opts["no_fast_path"],
    )
    if opts["platform"] == "cloudrun" and opts["snapstart"]:
        raise UsageError("--snapstart is a Lambda what-if; Cloud Run has its own startup (use --cold-start)")
    if opts["keep_alive"] == "hybrid":
        notes.append("hybrid policy: the ARIMA fallback is replaced by a median-of-last-5 idle-time forecast")
    totals = run_with_progress(
        jobs,
        cfg,
        workers=opts["workers"] if multi else 1,
        show=not opts["as_json"],
        horizon_s=parse_seconds(opts["horizon"]) if opts["pattern"] else None,
    )
    if not totals.functions:
        raise UsageError("the input has no requests to simulate")
    if totals.timeline is not None and totals.timeline.bin_s > totals.timeline.requested_bin_s:
        notes.append(
            f"timeline bins widened from {totals.timeline.requested_bin_s:g} s "
            f"to {totals.timeline.bin_s:g} s "
            "to keep the timeline in bounded memory"
        )
    report = build_report(totals, cfg, prices, inputs=inputs, notes=notes)
    if opts["png"] and totals.timeline is not None:
        from coldlab.sim.charts import write_png

        write_png(
            totals.timeline,
            opts["png"],
            title=f"coldlab simulate ({cfg.platform})",
            horizon_s=report["horizon_s"],
        )
        report["png"] = str(opts["png"])
    if opts["as_json"]:
        print_json(report)
    else:
        print_summary(report)


def _check_models(opts: dict[str, Any]) -> None:
    from coldlab.sim.bounds import check_finite
    from coldlab.sim.lambda_des import LambdaModel

    if opts["recycle_hours"] is not None:
        check_finite(opts["recycle_hours"], "--recycle-hours")
    limit = opts["reserved"] if opts["reserved"] is not None else LambdaModel().account_limit
    if opts["provisioned"] > limit:  # as AWS refuses it: provisioned comes out of the concurrency limit
        raise UsageError(f"--provisioned {opts['provisioned']} is above the concurrency limit of {limit}")
    if opts["min_instances"] > opts["max_instances"]:
        raise UsageError(
            f"--min-instances {opts['min_instances']} is above --max-instances {opts['max_instances']}"
        )


def _fmt_s(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def print_summary(r: dict[str, Any]) -> None:
    from rich.table import Table

    t = r["totals"]
    table = Table(title=f"coldlab simulate — {r['platform']}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("input", ", ".join(f"{k}={v}" for k, v in r["inputs"].items() if v is not None))
    table.add_row("model", ", ".join(f"{k}={v}" for k, v in r["model"].items() if v is not None))
    table.add_row("keep-alive", r["keep_alive"])
    table.add_row("cold-start penalty", r["cold_start_penalty"])
    table.add_row(
        "requests", f"{t['arrivals']:,} arrived, {t['served']:,} served, {t['throttled']:,} throttled"
    )
    table.add_row("cold starts", f"{t['cold_starts']:,} ({t['cold_pct']:.4f}%)")
    apps = r["cold_pct_across_apps"]
    if apps and apps.get("apps", 0) > 1:
        table.add_row(
            "cold % across apps",
            f"p50 {apps['p50']:.2f}%  p75 {apps['p75']:.2f}%  "
            f"p90 {apps['p90']:.2f}%  ({int(apps['apps'])} apps)",
        )
    lat = r["latency_s"]
    table.add_row("latency", f"p50 {_fmt_s(lat['p50'])}  p95 {_fmt_s(lat['p95'])}  p99 {_fmt_s(lat['p99'])}")
    table.add_row(
        "environments",
        f"avg {t['avg_environments']:.2f}, peak {t['peak_environments_sum_of_functions']}"
        f", created {t['environments_created']:,}",
    )
    table.add_row("idle GB-s", f"{t['idle_gb_s']:,.1f} (busy {t['busy_gb_s']:,.1f})")
    c = r["cost_usd"]
    parts = [f"{k} ${v:.6f}" for k, v in c.items() if k != "total" and v]
    table.add_row("cost", f"${c['total']:.6f} over {r['horizon_s']:,.0f} s ({', '.join(parts) or 'none'})")
    table.add_row(
        "per month / per 1M req",
        f"${r['cost_per_month_usd']:,.2f} / ${r['cost_per_million_requests_usd']:.4f}",
    )
    table.add_row("prices", f"{r['prices']['date']} ({r['prices']['origin']})")
    table.add_row(
        "engine", f"{r['fast_path_functions']}/{r['functions_simulated']} functions on the exact fast path"
    )
    err_console.print(table)
    if r["functions_simulated"] > 1:
        top = Table(title="busiest functions", title_justify="left")
        for col in ("function", "app", "MB", "served", "cold starts", "cold %", "avg envs"):
            top.add_column(col, justify="left" if col in ("function", "app") else "right")
        for f in r["functions"][:10]:
            top.add_row(
                f["name"],
                f["app"],
                f"{f['memory_mb']:g}",
                f"{f['served']:,}",
                f"{f['cold_starts']:,}",
                f"{f['cold_pct']:.3f}",
                f"{f['avg_envs']:.2f}",
            )
        err_console.print(top)
    for note in r["notes"]:
        err_console.print(f"[yellow]note:[/] {note}")
    if r.get("png"):
        err_console.print(f"chart: {r['png']}")
