"""`coldlab simulate` and `coldlab plan` end to end (click runner; small horizons)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from coldlab.cli import cli

EXAMPLES = Path(__file__).parents[2] / "examples" / "traces"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_simulate_pattern_json_and_png(tmp_path: Path) -> None:
    png = tmp_path / "chart.png"
    code, out, _ = _run(
        "simulate",
        "--pattern",
        "steady",
        "--rate",
        "5",
        "--horizon",
        "30m",
        "--json",
        "--png",
        str(png),
        "--seed",
        "4",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "coldlab.simulate/1"
    t = doc["totals"]
    assert t["served"] + t["throttled"] == t["arrivals"] > 8000
    assert 0 < t["cold_starts"] <= t["environments_created"]
    assert doc["cost_usd"]["total"] == pytest.approx(
        sum(v for k, v in doc["cost_usd"].items() if k != "total")
    )
    assert doc["cost_usd"]["requests"] == pytest.approx(t["served"] * 0.0000002)
    assert doc["latency_s"]["p50"] <= doc["latency_s"]["p95"] <= doc["latency_s"]["p99"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    _code2, out2, _ = _run(
        "simulate", "--pattern", "steady", "--rate", "5", "--horizon", "30m", "--json", "--seed", "4"
    )
    assert json.loads(out2)["totals"] == t  # same seed, same numbers


def test_simulate_rich_summary_and_snapstart_note() -> None:
    code, _, err = _run(
        "simulate", "--pattern", "bursty", "--rate", "1", "--horizon", "20m", "--snapstart", "const:200"
    )
    assert code == 0
    assert "cold starts" in err and "latency" in err
    assert "not for Go" in err


def test_simulate_azure_sample_multi_app() -> None:
    code, out, _ = _run(
        "simulate",
        "--azure",
        str(EXAMPLES / "azure-sample/invocations_per_function_md.anon.d01.csv"),
        "--azure-durations",
        str(EXAMPLES / "azure-sample/function_durations_percentiles.anon.d01.csv"),
        "--azure-memory",
        str(EXAMPLES / "azure-sample/app_memory_percentiles.anon.d01.csv"),
        "--placement",
        "equidistant",
        "--json",
        "--workers",
        "2",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["functions_simulated"] == 22
    assert doc["cold_pct_across_apps"]["apps"] == 6
    assert doc["inputs"]["placement"] == "equidistant"
    assert doc["horizon_s"] == 86400


def test_simulate_invocations_csv_and_hybrid() -> None:
    code, out, _ = _run(
        "simulate", "--invocations", str(EXAMPLES / "invocations.csv"), "--keep-alive", "hybrid", "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert {f["name"] for f in doc["functions"]} == {"api", "worker"}
    assert doc["totals"]["arrivals"] == 782


def test_simulate_cloud_run() -> None:
    code, out, _ = _run(
        "simulate",
        "--platform",
        "cloudrun",
        "--pattern",
        "steady",
        "--rate",
        "20",
        "--horizon",
        "10m",
        "--concurrency",
        "10",
        "--min-instances",
        "1",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["model"]["concurrency"] == 10
    assert doc["cost_usd"]["requests"] == pytest.approx(doc["totals"]["served"] * 0.0000004)


def test_malformed_csv_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,duration\n0,1\n1,oops\n")
    code, _, err = _run("simulate", "--invocations", str(bad))
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "bad.csv:3: column 'duration': not a number: 'oops'" in err


@pytest.mark.parametrize(
    "args",
    [
        ["simulate"],
        ["simulate", "--pattern", "steady", "--azure", "x.csv"],
        ["simulate", "--pattern", "steady", "--horizon", "-3"],
        ["simulate", "--pattern", "steady", "--duration", "exp:nope"],
        ["simulate", "--azure", "/nonexistent.csv"],
        ["plan", "--pattern", "steady", "--pc", "1,x"],
    ],
)
def test_bad_input_exit_2(args: list[str]) -> None:
    code, _, err = _run(*args)
    assert code == 2 and "Traceback" not in err


def test_plan_json_picks_the_cheapest_feasible_option() -> None:
    code, out, _ = _run(
        "plan",
        "--pattern",
        "steady",
        "--rate",
        "2",
        "--horizon",
        "10m",
        "--duration",
        "exp:30",
        "--pc",
        "1,2",
        "--min-instances",
        "0,1",
        "--no-break-even",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "coldlab.plan/1"
    kinds = [o["kind"] for o in doc["options"]]
    assert kinds == ["lambda", "lambda-pc", "lambda-pc", "cloudrun", "cloudrun"]
    feasible = [o for o in doc["options"] if o["meets_constraints"]]
    assert doc["best"]["cost_per_month_usd"] == min(o["cost_per_month_usd"] for o in feasible)
    pc = [o for o in doc["options"] if o["kind"] == "lambda-pc"]
    assert pc[1]["cost_breakdown_month_usd"]["provisioned"] == pytest.approx(
        2 * pc[0]["cost_breakdown_month_usd"]["provisioned"]
    )
    code, out, _ = _run(
        "plan",
        "--pattern",
        "steady",
        "--rate",
        "2",
        "--horizon",
        "10m",
        "--duration",
        "exp:30",
        "--pc",
        "1",
        "--min-instances",
        "1",
        "--no-break-even",
        "--max-cold-pct",
        "0",
        "--json",
    )
    doc = json.loads(out)
    assert all(o["cold_pct"] == 0 for o in doc["options"] if o["meets_constraints"])


def test_plan_break_even_tests_the_50_per_second_claim() -> None:
    code, out, _ = _run(
        "plan",
        "--pattern",
        "steady",
        "--rate",
        "1",
        "--horizon",
        "5m",
        "--duration",
        "const:30",
        "--pc",
        "1",
        "--min-instances",
        "0",
        "--break-even-horizon",
        "2m",
        "--json",
    )
    assert code == 0
    be = json.loads(out)["break_even"]
    # PC pays once its first environment is busy > 60%: rho/(1+rho) = 0.6 -> rate = 1.5 / 0.030 s = 50/s
    assert be["analytic_rate_per_s"] == pytest.approx(50.0, rel=0.01)
    assert be["break_even_rate_per_s"] == pytest.approx(50.0, rel=0.2)


def test_no_requests_gives_null_latency_not_nan() -> None:
    code, out, _ = _run("simulate", "--pattern", "steady", "--rate", "0.0001", "--horizon", "1m", "--json")
    assert code == 0
    doc = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert doc["latency_s"] == {"p50": None, "p95": None, "p99": None}
    assert doc["totals"]["arrivals"] == 0
