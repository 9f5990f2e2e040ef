"""`coldlab invoke` and `coldlab demo` as users run them: stdout, stderr, exit codes, bad input."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.runtime_scripts import GoBuilder, write_script_bootstrap

REPO = Path(__file__).resolve().parents[2]


def coldlab(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coldlab", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def hello(go_build: GoBuilder) -> Path:
    return go_build("hello-go").parent


def test_response_on_stdout_logs_on_stderr_cold_then_warm(hello: Path) -> None:
    done = coldlab("invoke", str(hello), "--repeat", "3", "--interval", "20", "--memory", "256")
    assert done.returncode == 0, done.stderr
    responses = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["cold_start"] for r in responses] == [True, False, False]
    reports = [line for line in done.stderr.splitlines() if line.startswith("REPORT ")]
    assert len(reports) == 3
    assert "\tInit Duration: " in reports[0]
    assert "Init Duration" not in reports[1]
    assert all("\tMemory Size: 256 MB\t" in line for line in reports)


def test_event_from_stdin(hello: Path) -> None:
    done = coldlab("invoke", str(hello), "--event", "-", stdin='{"name": "stdin"}')
    assert json.loads(done.stdout)["message"] == "hello, stdin"


def test_env_flags_reach_the_function_beside_lambdas_variables(tmp_path: Path) -> None:
    code = write_script_bootstrap(
        tmp_path / "env-echo",
        """
        while True:
            rid, headers, body = next_event()
            respond(rid, json.dumps(dict(os.environ)).encode())
        """,
    )
    done = coldlab("invoke", str(code), "--env", "MY_VAR=hello=there", "--memory", "512", "--function-name", "envy")
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)
    assert env["MY_VAR"] == "hello=there"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "envy"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/envy"
    assert "AWS_EXECUTION_ENV" not in env


def test_function_error_exits_non_zero(hello: Path) -> None:
    done = coldlab("invoke", str(hello), "--event", "-", stdin='{"fail": true}')
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "errorString"


def test_json_output(hello: Path) -> None:
    done = coldlab("invoke", str(hello), "--repeat", "2", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["schema"] == "coldlab.invoke/1"
    assert set(document["fidelity"]) >= {"freeze", "cpu", "memory", "isolation"}
    first, second = document["invocations"]
    assert first["cold"] is True
    assert first["init_duration_ms"] > 0
    assert first["cold_start_phases"]["platform_ms"] > 0
    assert second["cold"] is False
    assert second["payload"]["cold_start"] is False
    assert second["log_lines"][-1].startswith("REPORT RequestId: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory", "64"], "memory size 64 MB is out of range (use a whole number from 128 to 10240 MB)"),
        (["--timeout", "901"], "timeout 901 s is out of range (use a whole number from 1 to 900 s)"),
        (["--ephemeral-storage", "20000"], "ephemeral storage 20000 MB is out of range"),
        (["--env", "NOEQUALS"], "--env 'NOEQUALS' is not KEY=VALUE"),
    ],
)
def test_bad_flags_are_one_line_exit_2(hello: Path, args: list[str], message: str) -> None:
    done = coldlab("invoke", str(hello), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_malformed_event_file(hello: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"a": 1,,}')
    done = coldlab("invoke", str(hello), "--event", str(event))
    assert done.returncode == 2
    assert f"event in {event} is not valid JSON" in done.stderr
    assert "line 1, column 9" in done.stderr


def test_missing_bootstrap_and_bad_zip(tmp_path: Path) -> None:
    done = coldlab("invoke", str(tmp_path))
    assert done.returncode == 2
    assert "no `bootstrap` file at the root" in done.stderr
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        info = zipfile.ZipInfo("../bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        bundle.writestr(info, "#!/bin/sh\n")
    done = coldlab("invoke", str(evil))
    assert done.returncode == 2
    assert "unsafe entry '../bootstrap'" in done.stderr
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x05\x06" + b"\0" * 10)
    done = coldlab("invoke", str(broken))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_zip_code_runs(hello: Path, tmp_path: Path) -> None:
    archive = tmp_path / "function.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        bundle.writestr(info, (hello / "bootstrap").read_bytes())
    done = coldlab("invoke", str(archive))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["message"] == "hello, world"


def test_demo_shows_cold_and_warm_reports_at_both_sizes() -> None:
    done = coldlab("demo")
    assert done.returncode == 0, done.stderr
    reports = [line for line in done.stderr.splitlines() if line.startswith("REPORT ")]
    assert len(reports) == 12  # hello-go and hello-aws-lambda-go, cold + 2 warm, at 128 and 1769 MB
    assert sum("\tInit Duration: " in line for line in reports) == 4
    assert sum("\tMemory Size: 1769 MB\t" in line for line in reports) == 6
    rows = [row for row in map(str.split, done.stderr.splitlines()) if row[2:3] == ["MB"] and row[0].startswith("hello-")]
    assert [(row[0], row[1], row[3]) for row in rows[:6]] == [
        (name, "128", start) for name in ("hello-go", "hello-aws-lambda-go") for start in ("cold", "warm", "warm")
    ]
    assert "How to read the REPORT lines" in done.stderr


def test_gomaxprocs_warning_for_go_bootstraps_below_their_ps(hello: Path) -> None:
    warned = coldlab("invoke", str(hello), "--memory", "512", "--json")
    assert any("will run with GOMAXPROCS=" in w for w in json.loads(warned.stdout)["warnings"])
    plain = coldlab("invoke", str(hello), "--memory", "512")
    assert "coldlab: warning: bootstrap is a Go binary" in plain.stderr
    pinned = coldlab("invoke", str(hello), "--memory", "512", "--env", "GOMAXPROCS=1", "--json")
    assert not any("GOMAXPROCS" in w for w in json.loads(pinned.stdout)["warnings"])


def test_json_log_format(tmp_path: Path) -> None:
    code = write_script_bootstrap(
        tmp_path / "fmt",
        """
        while True:
            rid, headers, body = next_event()
            print("plain function line")
            respond(rid, json.dumps(os.environ.get("AWS_LAMBDA_LOG_FORMAT")).encode())
        """,
    )
    done = coldlab("invoke", str(code), "--log-format", "json", "--repeat", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ['"JSON"', '"JSON"']
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"time"')]
    assert [r["type"] for r in records] == [
        "platform.initStart",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
    ]
    assert "initDurationMs" in records[3]["record"]["metrics"]
    assert "initDurationMs" not in records[6]["record"]["metrics"]
    assert "plain function line" in done.stderr.splitlines()  # the function's own output is untouched
