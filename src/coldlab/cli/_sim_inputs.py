"""Input options shared by `coldlab simulate` and `coldlab plan`: parsing and validation of the options
and the input files they name (the work itself is built in coldlab.sim.workload)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

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
    if value <= 0 or not math.isfinite(value):
        raise UsageError(f"{what} must be a finite time > 0, got {text!r}")
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
        click.option(
            "--force",
            is_flag=True,
            help="Run a plan estimated beyond the work bound (100 million requests) anyway",
        ),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), func)


def build_jobs(
    opts: dict[str, Any], workdir: Path | None = None
) -> tuple[Iterable[Any], dict[str, Any], bool]:
    """(jobs, inputs description, multi-function?) from the input options. A multi-function CSV is split
    into per-function files under `workdir` (one pass), if given."""
    from coldlab.sim.bounds import MAX_DURATION_S, check_work
    from coldlab.sim.cloudrun import CloudRunModel
    from coldlab.sim.dists import check_bound, parse_dist
    from coldlab.sim.traces import Synthetic
    from coldlab.sim.workload import (
        AzureInput,
        azure_jobs,
        describe_inputs,
        invocation_jobs,
        synthetic_jobs,
        synthetic_work,
    )

    chosen = [k for k in ("pattern", "azure", "invocations") if opts.get(k)]
    if len(chosen) != 1:
        raise UsageError("give exactly one input: --pattern, --azure or --invocations")
    duration = check_bound(parse_dist(opts["duration"], scale=0.001), "--duration", MAX_DURATION_S)
    if opts.get("pattern"):
        rate = check_rate(opts["rate"])
        horizon = parse_seconds(opts["horizon"], "--horizon")
        pattern = Synthetic(opts["pattern"], rate, horizon, duration)
        tick = CloudRunModel().tick_s if opts.get("platform") == "cloudrun" else None
        fast = not opts["no_fast_path"] and tick is None
        check_work(synthetic_work(pattern, tick), force=opts["force"], fast=fast)
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
        if not spec.invocations.exists():
            raise UsageError(f"no such trace file: {spec.invocations}")
        inputs = describe_inputs(
            "azure2019",
            invocations=spec.invocations,
            durations=spec.durations,
            memory=spec.memory,
            placement=spec.placement,
            memory_mapping="each function gets its app's average MB (min 128)",
        )
        return azure_jobs(spec, duration, force=opts["force"]), inputs, True
    path = opts["invocations"]
    if not Path(path).exists():
        raise UsageError(f"no such trace file: {path}")
    jobs = invocation_jobs(Path(path), workdir)
    return jobs, describe_inputs("invocations", path=path, functions=len(jobs)), len(jobs) > 1


def cold_dist(opts: dict[str, Any], snapstart: str | None) -> tuple[Any, list[str]]:
    from coldlab.sim.bounds import MAX_DURATION_S
    from coldlab.sim.dists import check_bound, parse_dist

    notes = []
    spec, option = opts["cold_start"], "--cold-start"
    if snapstart:
        spec, option = snapstart, "--snapstart"
        notes.append(SNAPSTART_NOTE)
    return check_bound(parse_dist(spec, scale=0.001), option, MAX_DURATION_S), notes


MAX_RATE = 1e9  # req/s: beyond it even one simulated second is a billion requests


def check_rate(rate: float) -> float:
    from coldlab.sim.bounds import check_finite

    check_finite(rate, "--rate")
    if rate > MAX_RATE:
        raise UsageError(f"--rate must be at most {MAX_RATE:.0e} req/s, got {rate:g}")
    return rate


def check_common(opts: dict[str, Any]) -> None:
    """Options both commands share, refused with one line before anything is built."""
    from coldlab.sim.bounds import check_finite

    if opts["seed"] < 0:
        raise UsageError(f"--seed must be >= 0, got {opts['seed']}")
    if not 128 <= opts["memory_mb"] <= 10240:
        raise UsageError(f"--memory must be 128-10240 MB, got {opts['memory_mb']}")
    if opts.get("vcpu") is not None:
        check_finite(opts["vcpu"], "--vcpu")
    if opts.get("max_functions") is not None and opts["max_functions"] < 1:
        raise UsageError(f"--max-functions must be at least 1, got {opts['max_functions']}")
