"""`coldlab tune`: sweep memory sizes and find the fastest-cheapest setting (locally or on AWS Lambda)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from coldlab.cli.output import err_console, print_json
from coldlab.config import parse_env_pairs
from coldlab.errors import UsageError
from coldlab.tune.analysis import Analysis, analyse
from coldlab.tune.backends import Backend, Sample
from coldlab.tune.costs import PricingCosts
from coldlab.tune.plan import DEFAULT_COLD_SHARE, DEFAULT_MEMORY, Plan, build_plan, parse_target
from coldlab.tune.report import document, table, write_csv
from coldlab.tune.run import Execution, Observer, execute


class ProgressBars(Observer):
    """One rich progress bar per memory size, on stderr (stdout stays clean for --json)."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=False,
        )
        self.tasks: dict[int, TaskID] = {}
        self.errors: dict[int, int] = {}

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.tasks:  # started lazily, so an error before the first size prints nothing extra
            self.progress.stop()

    def size_started(self, memory_mb: int, total: int) -> None:
        if not self.tasks:
            self.progress.start()
        self.errors[memory_mb] = 0
        self.tasks[memory_mb] = self.progress.add_task(f"{memory_mb} MB", total=total, errors="")

    def sample(self, sample: Sample) -> None:
        task = self.tasks.get(sample.memory_mb)
        if task is None:
            return
        if not sample.ok:
            self.errors[sample.memory_mb] += 1
        count = self.errors[sample.memory_mb]
        self.progress.update(task, advance=1, errors=f"[red]{count} errors[/]" if count else "")


def make_backend(plan: Plan, env: dict[str, str], endpoint_url: str | None) -> Backend:
    if plan.target.kind == "local":
        from coldlab.tune.backends.local import LocalBackend

        assert plan.target.code is not None
        return LocalBackend(plan.target.code, env)
    from coldlab.tune.backends.aws import AwsBackend, make_client

    assert plan.target.function_name is not None
    if env:
        raise UsageError("--env applies to local runs only", "set the AWS function's variables in AWS")
    client = make_client(plan.target.region, endpoint_url, plan.timeout_s)
    return AwsBackend(plan.target.function_name, client)


def _print_plan(plan: Plan, as_json: bool) -> None:
    if as_json:
        print_json({"schema": "coldlab.tune-plan/1", "plan": plan.as_dict()})
        return
    info = plan.as_dict()
    err_console.print("[bold]coldlab tune plan[/] (dry run: nothing is invoked)")
    for key, value in info.items():
        err_console.print(f"  {key.replace('_', ' ')}: {value}")


def _print_human(execution: Execution, analysis: Analysis, notes: list[str]) -> None:
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=160)  # a pipe or file: keep rows on one line
    out.print(table(analysis))
    for arch in analysis.archs:
        picks = ", ".join(f"{k} {v} MB" for k, v in arch.picks.items())
        out.print(f"[bold]{arch.arch}[/] ({analysis.strategy}): {arch.recommendation}")
        if picks:
            front = ", ".join(map(str, arch.pareto))
            out.print(f"  picks: {picks}; Pareto front: {front} MB; knee: {arch.knee} MB")
    for note in notes:
        err_console.print(f"[yellow]coldlab: note:[/] {note}")
    err_console.print(
        f"{len(execution.samples)} invocations on {execution.backend} in {execution.wall_s:.1f} s"
    )


@click.command("tune")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--target", metavar="aws:FUNCTION[:REGION]", help="Tune a real Lambda function instead of PATH")
@click.option("--memory", default=",".join(map(str, DEFAULT_MEMORY)), show_default=True,
              help="Comma-separated memory sizes in MB (128-10240)")
@click.option("-n", "--invocations", type=int, default=50, show_default=True,
              help="Warm invocations per memory size (cold ones come on top)")
@click.option("--event", metavar="FILE|-", help="Event JSON for every invocation [default: {}]")
@click.option("--events", type=click.Path(path_type=Path), metavar="FILE",
              help='Weighted events: JSON list of {"payload": ..., "weight": N}')
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Concurrent invocations (each lane is its own environment)")
@click.option("--strategy", type=click.Choice(["cost", "speed", "balanced"]), default="cost",
              show_default=True)
@click.option("--weight", type=float, default=0.5, show_default=True,
              help="balanced: 0 = speed only, 1 = cost only")
@click.option("--arch", type=click.Choice(["auto", "x86_64", "arm64", "both"]), default="auto",
              show_default=True, help="Architectures to price (auto: this machine's or the AWS function's)")
@click.option("--trim", type=float, default=0.2, show_default=True,
              help="Share cut from each end for the trimmed mean (0-0.4)")
@click.option("--cold", type=click.IntRange(min=0), default=0, show_default=True,
              help="Fresh environments (cold invocations) per memory size")
@click.option("--cold-share", type=float, default=DEFAULT_COLD_SHARE, show_default=True,
              help="Share of invocations assumed cold when pricing per 1M")
@click.option("--timeout", "timeout_s", type=click.IntRange(1, 900), default=30, show_default=True,
              help="Function timeout in seconds (local runs)")
@click.option("--env", "env_pairs", multiple=True, metavar="K=V",
              help="Function environment variable (local)")
@click.option("--prices", type=click.Path(path_type=Path), help="Price table JSON [default: bundled]")
@click.option("--endpoint-url", help="Lambda API endpoint (e.g. coldlab's own Invoke API)")
@click.option("--dry-run", is_flag=True, help="Show the plan and exit without invoking anything")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (schema coldlab.tune/1)")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write one row per size and arch")
@click.option("--chart", "chart_path", type=click.Path(path_type=Path), help="Write a PNG (or SVG) chart")
def command(
    *,
    path: Path | None,
    target: str | None,
    memory: str,
    invocations: int,
    event: str | None,
    events: Path | None,
    parallel: int,
    strategy: str,
    weight: float,
    arch: str,
    trim: float,
    cold: int,
    cold_share: float,
    timeout_s: int,
    env_pairs: tuple[str, ...],
    prices: Path | None,
    endpoint_url: str | None,
    dry_run: bool,
    as_json: bool,
    csv_path: Path | None,
    chart_path: Path | None,
) -> None:
    """Power-tune the function at PATH (a directory or .zip holding `bootstrap`), or --target aws:FUNCTION.

    Every memory size runs -n warm invocations plus cold ones, then the sizes are compared on latency
    (p50/p90/p99, trimmed mean) and cost per 1M invocations, and one size is recommended.
    Exits 1 when every invocation failed (nothing to recommend), 2 on bad input.
    """
    if path is not None and target is not None and target != "local":
        raise UsageError("give either PATH or --target aws:FUNCTION, not both")
    plan = build_plan(
        parse_target(target, None if path is None else str(path)),
        memory=memory, invocations=invocations, event=event, events=events, parallel=parallel, cold=cold,
        arch=arch, strategy=strategy, weight=weight, timeout_s=timeout_s, cold_share=cold_share,
        trim=trim,
    )
    if dry_run:
        _print_plan(plan, as_json)
        return
    from coldlab.tune.chart import check_path

    if chart_path is not None:
        check_path(chart_path)
    if csv_path is not None:
        check_path(csv_path, "--csv", ())
    costs = PricingCosts(prices)  # load before running: a bad price file fails fast
    backend = make_backend(plan, parse_env_pairs(env_pairs), endpoint_url)
    if as_json:
        execution = asyncio.run(execute(plan, backend))
    else:
        with ProgressBars() as bars:
            execution = asyncio.run(execute(plan, backend, bars))
    analysis = analyse(
        list(execution.samples), costs, archs=execution.archs, strategy=plan.strategy, weight=plan.weight,
        cold_share=plan.cold_share, trim=plan.trim, memory_sizes=plan.memory_sizes, notes=execution.notes,
    )
    doc = document(execution, analysis, costs.describe())
    if csv_path is not None:
        write_csv(analysis, csv_path)
    if chart_path is not None:
        from coldlab.tune.chart import write_chart

        write_chart(analysis, chart_path, title=f"coldlab tune: {plan.target.describe()}")
    if as_json:
        print_json(doc)
    else:
        _print_human(execution, analysis, doc["notes"])
    if all(arch.recommended is None for arch in analysis.archs):
        raise SystemExit(1)  # every invocation failed: reported above, but nothing to recommend
