"""`coldlab plan`: on-demand vs provisioned concurrency vs Cloud Run min instances for one workload; the
cheapest option under a cold-start/latency constraint; where provisioned concurrency breaks even."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from coldlab.cli._progress import LazyProgress
from coldlab.cli._sim_inputs import build_jobs, check_common, cold_dist, input_options, parse_seconds
from coldlab.cli.output import err_console, print_json
from coldlab.errors import UsageError

SUGGESTED_PC = 7  # provisioned settings `plan` tries when --pc is not given (planner.suggest_pc)


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{what} must be a comma-separated list of whole numbers, got {text!r}") from None
    if any(v < 0 for v in values):
        raise UsageError(f"{what} values must be >= 0")
    return values


@click.command("plan")
@input_options
@click.option(
    "--pc",
    "pc_text",
    help="Provisioned concurrency values to try, e.g. 1,2,5 [default: around the mean concurrency]",
)
@click.option(
    "--min-instances", "min_text", default="0,1,2", show_default=True, help="Cloud Run min instances to try"
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1000),
    default=80,
    show_default=True,
    help="Cloud Run requests per instance",
)
@click.option("--vcpu", type=float, default=1.0, show_default=True, help="Cloud Run vCPUs per instance")
@click.option("--max-cold-pct", type=float, help="Constraint: cold starts at most this % of requests")
@click.option("--max-p99-ms", type=float, help="Constraint: p99 latency at most this many ms")
@click.option(
    "--break-even/--no-break-even",
    default=True,
    show_default=True,
    help="Sweep steady rates for the provisioned-concurrency break-even",
)
@click.option("--break-even-horizon", default="10m", show_default=True, help="Simulated time per sweep point")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.plan/1)")
def command(**opts: Any) -> None:
    """Compare Lambda on-demand, Lambda + provisioned concurrency and Cloud Run for one workload."""
    with tempfile.TemporaryDirectory(prefix="coldlab-plan-") as workdir:
        _plan(opts, Path(workdir))


def _plan(opts: dict[str, Any], workdir: Path) -> None:
    from coldlab.pricing import load_prices
    from coldlab.sim.bounds import MAX_DURATION_S, Work, check_work
    from coldlab.sim.cloudrun import CloudRunModel
    from coldlab.sim.dists import check_bound, parse_dist
    from coldlab.sim.lambda_des import LambdaModel
    from coldlab.sim.planner import SCHEMA, Constraints, break_even, break_even_work, compare, sweep_rates
    from coldlab.sim.policies import PolicySpec, validate_policy
    from coldlab.sim.runner import RunConfig

    pc_values, min_instances = _check_options(opts)
    prices = load_prices(opts["prices_path"])
    force = opts["force"]
    if opts["pattern"]:  # a synthetic run's work is checked below, with the whole sweep's
        opts = {**opts, "force": True}
    first_jobs = build_jobs(opts, workdir)[0]  # validates the input early

    def jobs() -> Any:  # lists can be reused; an Azure file is a stream, read again for each option
        return first_jobs if isinstance(first_jobs, list) else build_jobs(opts, workdir)[0]

    cold, notes = cold_dist(opts, None)
    policy = PolicySpec("fixed", opts["idle_timeout"])
    validate_policy(policy)
    base = RunConfig(
        lam=LambdaModel(memory_mb=opts["memory_mb"], arch=opts["arch"]),
        run=CloudRunModel(concurrency=opts["concurrency"], vcpu=opts["vcpu"], memory_mb=opts["memory_mb"]),
        policy=policy,
        cold=cold,
        seed=opts["seed"],
        fast=not opts["no_fast_path"],
    )
    constraints = Constraints(
        opts["max_cold_pct"], opts["max_p99_ms"] / 1000.0 if opts["max_p99_ms"] is not None else None
    )
    duration = check_bound(parse_dist(opts["duration"], scale=0.001), "--duration", MAX_DURATION_S)
    be_horizon = parse_seconds(opts["break_even_horizon"], "--break-even-horizon")
    rates = sweep_rates(duration, base, prices) if opts["break_even"] else []
    # the whole command's work, up front: every option's run of the workload, and the break-even sweep
    option_runs = 1 + (len(pc_values) if pc_values is not None else SUGGESTED_PC) + len(min_instances)
    horizon = parse_seconds(opts["horizon"], "--horizon") if opts["pattern"] else 0.0
    per_run = opts["rate"] * horizon
    ticks = horizon / base.run.tick_s * len(min_instances)  # Cloud Run's autoscaler, every tick_s
    sweep = break_even_work(rates, be_horizon)
    work = Work(
        per_run * option_runs + ticks + sweep.requests,
        option_runs + sweep.runs,
        f"{option_runs} options x {per_run:.3g} requests" + (f"; {sweep.what}" if rates else ""),
    )
    check_work(
        work,
        force=force,
        fast=not opts["no_fast_path"],
        shorten="shorten --horizon or --break-even-horizon (or pass --no-break-even)",
    )
    total_runs = option_runs + len(rates)
    with LazyProgress("planning", "runs", total=total_runs, show=not opts["as_json"]) as bar:

        def after_option(left: int) -> None:
            bar.set_total(len(rates) + left + bar.completed + 1)
            bar.update(advance=1)

        options, best = compare(
            jobs,
            base,
            prices,
            pc_values=pc_values,
            min_instances=min_instances,
            constraints=constraints,
            workers=opts["workers"],
            on_run=after_option,
        )
        be = None
        if opts["break_even"]:
            be = break_even(
                duration,
                base,
                prices,
                rates=rates,
                horizon_s=be_horizon,
                on_point=lambda: bar.update(advance=1),
            )
    verdict = claim_verdict(be)
    doc = {
        "schema": SCHEMA,
        "constraints": {"max_cold_pct": opts["max_cold_pct"], "max_p99_ms": opts["max_p99_ms"]},
        "options": [o.as_dict() for o in options],
        "best": best.as_dict() if best else None,
        "break_even": be.as_dict() if be else None,
        "claim_50_per_s": verdict,
        "prices": {"date": prices.date, "origin": prices.origin},
        "notes": [*notes, "costs are per 30-day month, extrapolated from the simulated horizon"],
    }
    if opts["as_json"]:
        print_json(doc)
        return
    print_plan(doc)


def _check_options(opts: dict[str, Any]) -> tuple[list[int] | None, list[int]]:
    """(--pc values or None, --min-instances values), every option checked before any work."""
    from coldlab.sim.bounds import check_finite
    from coldlab.sim.cloudrun import CloudRunModel
    from coldlab.sim.lambda_des import LambdaModel

    check_common(opts)
    for option in ("max_cold_pct", "max_p99_ms"):
        if opts[option] is not None:
            check_finite(opts[option], "--" + option.replace("_", "-"), positive=False)
    pc_values = _int_list(opts["pc_text"], "--pc")
    limit = LambdaModel().account_limit
    if pc_values and max(pc_values) > limit:
        raise UsageError(f"--pc {max(pc_values)} is above the account concurrency limit of {limit}")
    min_instances = _int_list(opts["min_text"], "--min-instances") or []
    most = CloudRunModel().max_instances
    if min_instances and max(min_instances) > most:
        raise UsageError(f"--min-instances {max(min_instances)} is above Cloud Run's max instances ({most})")
    return pc_values, min_instances


def claim_verdict(be: Any) -> str | None:
    """What the model says about the seed's "provisioned concurrency pays from ~50 inv/s" claim."""
    if be is None:
        return None
    rate = be.rate if be.rate is not None else be.analytic_rate
    d_ms = be.mean_duration_s * 1000
    u = be.utilisation_threshold
    ms_for_50 = u / (1 - u) / 50 * 1000
    return (
        f"for a mean duration of {d_ms:.0f} ms, provisioned concurrency starts to pay at about {rate:.1f} "
        f"req/s (simulated; analytic {be.analytic_rate:.1f} req/s: the first provisioned environment is busy "
        f"rho/(1+rho) of the time, rho = rate x mean duration, and pays above "
        f"{be.utilisation_threshold:.0%}). The break-even is a utilisation, not a rate: ~50 req/s holds only "
        f"for a mean duration near {ms_for_50:.0f} ms"
    )


def print_plan(doc: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="coldlab plan — cost per month", title_justify="left")
    for col in ("option", "$/month", "cold %", "p99", "throttled %", "meets"):
        table.add_column(col, justify="right" if col != "option" else "left")
    best_label = doc["best"]["label"] if doc["best"] else None
    for o in doc["options"]:
        style = "bold green" if o["label"] == best_label else None
        table.add_row(
            o["label"],
            f"{o['cost_per_month_usd']:,.2f}",
            f"{o['cold_pct']:.4f}",
            f"{o['p99_s'] * 1000:.1f} ms" if o["p99_s"] is not None else "-",
            f"{o['throttled_pct']:.3f}",
            "yes" if o["meets_constraints"] else "no",
            style=style,
        )
    err_console.print(table)
    if best_label:
        err_console.print(
            f"cheapest meeting the constraints: [bold]{best_label}[/] "
            f"(${doc['best']['cost_per_month_usd']:,.2f}/month)"
        )
    else:
        err_console.print("[yellow]no option meets the constraints[/]")
    be = doc["break_even"]
    if be:
        rate = be["break_even_rate_per_s"]
        err_console.print(
            "provisioned-concurrency break-even: "
            + (f"{rate:.1f} req/s (simulated)" if rate is not None else "not reached in the sweep")
            + f"; analytic {be['analytic_rate_per_s']:.1f} req/s"
        )
        err_console.print(f"seed claim (~50 inv/s): {doc['claim_50_per_s']}")
    for note in doc["notes"]:
        err_console.print(f"[yellow]note:[/] {note}")
