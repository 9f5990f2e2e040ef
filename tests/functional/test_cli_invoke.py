"""`coldlab invoke` and `coldlab demo` as users run them: stdout, stderr, exit codes, bad input."""

from __future__ import annotations

import base64
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


def _header_echo(tmp_path: Path) -> Path:
    return write_script_bootstrap(
        tmp_path / "header-echo",
        """
        while True:
            rid, headers, body = next_event()
            respond(rid, json.dumps(headers.get("Lambda-Runtime-Client-Context")).encode())
        """,
    )


CLIENT_CONTEXT = {
    "client": {"installation_id": "inst-1", "app_title": "coldlab tests", "app_package_name": "lab"},
    "env": {"platform": "linux"},
    "custom": {"tenant": "blue"},
}


def test_client_context_reaches_the_runtime_decoded(tmp_path: Path) -> None:
    """JSON or base64 JSON (as `aws lambda invoke --client-context` takes it): the runtime gets the JSON."""
    code = _header_echo(tmp_path)
    as_json = tmp_path / "ctx.json"
    as_json.write_text(json.dumps(CLIENT_CONTEXT))
    as_base64 = tmp_path / "ctx.b64"
    as_base64.write_bytes(base64.b64encode(json.dumps(CLIENT_CONTEXT).encode()))
    for source in (as_json, as_base64):
        done = coldlab("invoke", str(code), "--client-context", str(source), "--repeat", "2")
        assert done.returncode == 0, done.stderr
        headers = [json.loads(json.loads(line)) for line in done.stdout.splitlines()]
        assert headers == [CLIENT_CONTEXT, CLIENT_CONTEXT]  # every invocation of the run carries it
    plain = coldlab("invoke", str(code))
    assert json.loads(plain.stdout) is None  # no header at all without the flag


@pytest.mark.go
def test_client_context_reaches_aws_lambda_gos_lambdacontext(go_build: GoBuilder, tmp_path: Path) -> None:
    code = go_build("hello-aws-lambda-go", tags=("lambda.norpc",)).parent
    source = tmp_path / "ctx.b64"
    source.write_bytes(base64.b64encode(json.dumps(CLIENT_CONTEXT).encode()))
    done = coldlab("invoke", str(code), "--client-context", str(source))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)["context"]["client_context"]
    assert seen["custom"] == {"tenant": "blue"}
    assert seen["env"] == {"platform": "linux"}
    assert seen["Client"]["installation_id"] == "inst-1"
    assert seen["Client"]["app_title"] == "coldlab tests"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"custom": ', "is not valid JSON: Expecting value at line 1, column 11"),
        (b"%%% not base64 %%%", "is neither JSON nor base64"),
        (base64.b64encode(b"[1]"), "is a JSON list, not an object"),
        (json.dumps({"custom": {"k": "v" * 3000}}).encode(), "bytes as base64; Lambda allows 3583"),
    ],
)
def test_bad_client_context_is_one_line_and_nothing_runs(tmp_path: Path, content: bytes, fragment: str) -> None:
    code = _header_echo(tmp_path)
    source = tmp_path / "ctx"
    source.write_bytes(content)
    done = coldlab("invoke", str(code), "--client-context", str(source))
    assert done.returncode == 2
    assert done.stderr.startswith("coldlab: error: client context")
    assert fragment in done.stderr
    assert len(done.stderr.splitlines()) == 1  # no INIT_START: nothing ran
    assert done.stdout == ""


def test_event_over_6_mb_is_refused_before_anything_runs(tmp_path: Path) -> None:
    code = _header_echo(tmp_path)
    event = tmp_path / "big.json"
    event.write_text(json.dumps({"blob": "x" * 6_291_456}))
    done = coldlab("invoke", str(code), "--event", str(event))
    assert done.returncode == 2
    size = event.stat().st_size
    assert done.stderr == (
        "coldlab: error: Request must be smaller than 6291456 bytes for the InvokeFunction operation "
        f"(the event in {event} has {size} bytes; send at most 6291456)\n"
    )
    piped = coldlab("invoke", str(code), "--event", "-", stdin=event.read_text())
    assert piped.returncode == 2
    assert "(the event in stdin has over 6291456 bytes; send at most 6291456)" in piped.stderr


def test_event_of_exactly_6_mb_runs(tmp_path: Path) -> None:
    code = write_script_bootstrap(
        tmp_path / "size",
        """
        while True:
            rid, headers, body = next_event()
            respond(rid, str(len(body)).encode())
        """,
    )
    event = tmp_path / "exact.json"
    event.write_text(json.dumps({"blob": "x" * (6_291_456 - len('{"blob": ""}'))}))
    assert event.stat().st_size == 6_291_456
    done = coldlab("invoke", str(code), "--event", str(event))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "6291456\n"


@pytest.mark.parametrize("name", ["AWS_LAMBDA_RUNTIME_API", "_HANDLER", "AWS_REGION", "AWS_ACCESS_KEY_ID"])
def test_reserved_environment_names_are_refused_as_lambda_refuses_them(tmp_path: Path, name: str) -> None:
    code = _header_echo(tmp_path)
    done = coldlab("invoke", str(code), "--env", "MINE=1", "--env", f"{name}=x")
    assert done.returncode == 2
    assert done.stderr == (
        "coldlab: error: Lambda was unable to configure your environment variables because the environment "
        "variables you have provided contains reserved keys that are currently not supported for "
        f"modification. Reserved keys used in this request: {name} (rename them: Lambda sets these itself)\n"
    )


def test_event_and_client_context_cannot_both_come_from_stdin(tmp_path: Path) -> None:
    done = coldlab("invoke", str(_header_echo(tmp_path)), "--event", "-", "--client-context", "-", stdin="{}")
    assert done.returncode == 2
    assert done.stderr == (
        "coldlab: error: --event - and --client-context - cannot both read stdin (put one of them in a file)\n"
    )


def test_client_context_from_stdin(tmp_path: Path) -> None:
    code = _header_echo(tmp_path)
    done = coldlab("invoke", str(code), "--client-context", "-", stdin=json.dumps(CLIENT_CONTEXT))
    assert done.returncode == 0, done.stderr
    assert json.loads(json.loads(done.stdout)) == CLIENT_CONTEXT
