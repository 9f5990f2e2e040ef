"""`coldlab simulate`: cold starts, environments, latency and cost of a traffic pattern or trace on Lambda or
Cloud Run. The option helpers here are shared with `coldlab plan`."""

from __future__ import annotations

import functools
import math
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from coldlab.cli.output import err_console, print_json
from coldlab.errors import UsageError

DEFAULT_COLD_MS = (
    "normal:49,3"  # Go zip on provided.al2023, x86: mean INIT 49 ms (maxday/lambda-perf 2026-08-22)
)
SNAPSTART_NOTE = (
    "SnapStart is a what-if here: AWS offers it only for Java, Python and .NET managed runtimes, "
    "not for Go (provided.*); restore cost is billed as INIT, snapshot cache charges are not modelled"
)


def parse_seconds(text: str, what: str = "duration") -> float:
    """'90', '90s', '15m', '4h', '1d' -> seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"bad {what} {text!r}", "use a number of seconds or a suffix s, m, h, d (e.g. 15m)")
    value = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if value <= 0:
        raise UsageError(f"{what} must be > 0, got {text!r}")
    return value


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--pattern",
            type=click.Choice(["steady", "bursty", "diurnal", "spike", "cron"]),
            help="Synthetic traffic pattern (mean rate --rate over --horizon)",
        ),
        click.option("--rate", type=float, default=1.0, show_default=True, help="Mean requests per second"),
        click.option(
            "--horizon", default="1h", show_default=True, help="Simulated time for --pattern (s/m/h/d)"
        ),
        click.option(
            "--azure",
            "azure",
            type=click.Path(path_type=Path),
            help="Azure 2019 invocations_per_function_md.anon.dNN.csv",
        ),
        click.option(
            "--azure-durations",
            type=click.Path(path_type=Path),
            help="Matching function_durations_percentiles file",
        ),
        click.option(
            "--azure-memory", type=click.Path(path_type=Path), help="Matching app_memory_percentiles file"
        ),
        click.option(
            "--placement",
            type=click.Choice(["uniform", "poisson", "equidistant"]),
            default="uniform",
            show_default=True,
            help="Rule placing Azure per-minute counts inside each minute (seeded)",
        ),
        click.option("--max-functions", type=int, help="Only the first N functions of the Azure file"),
        click.option(
            "--invocations",
            type=click.Path(path_type=Path),
            help="Per-invocation CSV: timestamp (s), duration (s) or duration_ms[, function]",
        ),
        click.option(
            "--duration",
            default="exp:100",
            show_default=True,
            help="Service time distribution in ms (const:V, exp:MEAN, uniform:A,B, normal:M,SD, "
            "lognormal:MU,SIGMA, empirical:FILE.json) when the input has none",
        ),
        click.option(
            "--cold-start",
            "cold_start",
            default=DEFAULT_COLD_MS,
            show_default=True,
            help="Cold-start penalty in ms (a distribution, or empirical:FILE.json of measured "
            "values, e.g. `coldlab invoke --json` output)",
        ),
        click.option("--memory", "memory_mb", type=int, default=128, show_default=True, help="Memory in MB"),
        click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default="x86_64", show_default=True),
        click.option(
            "--idle-timeout",
            default="600",
            show_default=True,
            help="Lambda idle reclaim in s, or a distribution in s (e.g. uniform:300,420)",
        ),
        click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same results"),
        click.option(
            "--workers",
            type=click.IntRange(1, 64),
            default=2,
            show_default=True,
            help="Processes for multi-function traces",
        ),
        click.option(
            "--prices",
            "prices_path",
            type=click.Path(path_type=Path),
            help="Your own price JSON (default: the bundled dated table)",
        ),
        click.option(
            "--no-fast-path", is_flag=True, help="Always use the event kernel (slower, same results)"
        ),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), func)


def build_jobs(
    opts: dict[str, Any], workdir: Path | None = None
) -> tuple[Iterable[Any], dict[str, Any], bool]:
    """(jobs, inputs description, multi-function?) from the input options. A multi-function CSV is split
    into per-function files under `workdir` (one pass), if given."""
    from coldlab.sim.dists import parse_dist
    from coldlab.sim.traces import Synthetic
    from coldlab.sim.workload import AzureInput, azure_jobs, describe_inputs, invocation_jobs, synthetic_jobs

    chosen = [k for k in ("pattern", "azure", "invocations") if opts.get(k)]
    if len(chosen) != 1:
        raise UsageError("give exactly one input: --pattern, --azure or --invocations")
    duration = parse_dist(opts["duration"], scale=0.001)
    if opts.get("pattern"):
        if opts["rate"] <= 0:
            raise UsageError(f"--rate must be > 0, got {opts['rate']}")
        horizon = parse_seconds(opts["horizon"], "--horizon")
        pattern = Synthetic(opts["pattern"], opts["rate"], horizon, duration)
        inputs = describe_inputs(
            "synthetic",
            pattern=opts["pattern"],
            rate=opts["rate"],
            horizon_s=horizon,
            duration=duration.describe(),
        )
        return synthetic_jobs(pattern), inputs, False
    if opts.get("azure"):
        spec = AzureInput(
            opts["azure"],
            opts.get("azure_durations"),
            opts.get("azure_memory"),
            opts["placement"],
            opts.get("max_functions"),
        )
        if not spec.invocations.is_file():
            raise UsageError(f"no such trace file: {spec.invocations}")
        inputs = describe_inputs(
            "azure2019",
            invocations=spec.invocations,
            durations=spec.durations,
            memory=spec.memory,
            placement=spec.placement,
            memory_mapping="each function gets its app's average MB (min 128)",
        )
        return azure_jobs(spec, duration), inputs, True
    path = opts["invocations"]
    if not Path(path).is_file():
        raise UsageError(f"no such trace file: {path}")
    jobs = invocation_jobs(Path(path), workdir)
    return jobs, describe_inputs("invocations", path=path, functions=len(jobs)), len(jobs) > 1


def cold_dist(opts: dict[str, Any], snapstart: str | None) -> tuple[Any, list[str]]:
    from coldlab.sim.dists import parse_dist

    notes = []
    spec = opts["cold_start"]
    if snapstart:
        spec = snapstart
        notes.append(SNAPSTART_NOTE)
    return parse_dist(spec, scale=0.001), notes


def run_with_progress(
    jobs: Iterable[Any], cfg: Any, *, workers: int, show: bool, horizon_s: float | None = None
) -> Any:
    """Multi-function runs: a bar of functions done. One long function: a bar of simulated time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from coldlab.sim.runner import run_jobs

    if horizon_s is not None and show:
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}% of simulated time"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("sim", total=horizon_s)
            return run_jobs(
                jobs,
                cfg,
                workers=1,
                on_chunk=lambda _n, t: progress.update(task, completed=min(t, horizon_s)),
            )
    if not show:
        return run_jobs(jobs, cfg, workers=workers)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("functions"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("sim", total=None)
        return run_jobs(jobs, cfg, workers=workers, progress=lambda _r: progress.advance(task))


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
    from coldlab.sim.cloudrun import CloudRunModel
    from coldlab.sim.lambda_des import LambdaModel
    from coldlab.sim.policies import HybridParams, PolicySpec, validate_policy
    from coldlab.sim.report import build_report
    from coldlab.sim.runner import RunConfig

    prices = load_prices(opts["prices_path"])
    jobs, inputs, multi = build_jobs(opts, workdir)
    cold, notes = cold_dist(opts, opts["snapstart"])
    policy = PolicySpec(
        opts["keep_alive"],
        opts["idle_timeout"],
        HybridParams(range_s=parse_seconds(opts["hybrid_range"], "--hybrid-range")),
    )
    validate_policy(policy)
    recycle = opts["recycle_hours"] * 3600 if opts["recycle_hours"] else None
    if opts["memory_mb"] < 128 or opts["memory_mb"] > 10240:
        raise UsageError(f"--memory must be 128-10240 MB, got {opts['memory_mb']}")
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
    long_single = not multi and opts["pattern"] and parse_seconds(opts["horizon"]) * opts["rate"] > 2_000_000
    totals = run_with_progress(
        jobs,
        cfg,
        workers=opts["workers"] if multi else 1,
        show=(multi or bool(long_single)) and not opts["as_json"],
        horizon_s=parse_seconds(opts["horizon"]) if long_single else None,
    )
    if not totals.functions:
        raise UsageError("the input has no requests to simulate")
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
