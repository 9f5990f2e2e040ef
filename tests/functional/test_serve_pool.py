"""The environment pool behind `coldlab serve`, seen through boto3 and the status JSON: cold starts and warm
reuse, reclaim, throttles, provisioned concurrency and spillover, draining, failures, disconnects, shutdown."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.runtime_scripts import GoBuilder, gone, write_script_bootstrap
from support.serve import COLDLAB, ServeProcess, code_dir, lambda_client, zip_bootstrap

pytestmark = pytest.mark.go


@pytest.fixture(scope="module")
def hello(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return code_dir(go_build("hello-go"), tmp_path_factory.mktemp("code") / "hello")


@pytest.fixture(scope="module")
def server(hello: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(str(hello), "--timeout", "1", cwd=tmp_path_factory.mktemp("serve")) as serve:
        yield serve


@pytest.fixture(scope="module")
def client(server: ServeProcess) -> Any:
    return lambda_client(server.url)


def together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls at once (threads released by one barrier); each result or the ClientError's response."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except ClientError as exc:
            results[index] = exc.response

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def tail(answer: dict[str, Any]) -> str:
    return base64.b64decode(answer["LogResult"]).decode()


def invoke(client: Any, name: str, event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = client.invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail", **extra
    )
    answer["body"] = json.loads(answer.pop("Payload").read() or b"null")
    return answer


def create(client: Any, name: str, code: Path, tmp: Path) -> None:
    zipped = zip_bootstrap(code / "bootstrap", tmp / f"{name}.zip")
    client.create_function(
        FunctionName=name, Runtime="provided.al2023", Role="arn:aws:iam::123456789012:role/t",
        Handler="bootstrap", Code={"ZipFile": zipped},
    )  # fmt: skip
    client.get_waiter("function_active_v2").wait(FunctionName=name)


def test_twenty_simultaneous_invokes_start_twenty_environments_then_reuse_starts_none(
    client: Any, server: ServeProcess
) -> None:
    first = together([lambda: invoke(client, "hello", {"sleep_ms": 400})] * 20)
    assert sum("Init Duration" in tail(a) for a in first) == 20
    assert len({a["body"]["request_id"] for a in first}) == 20
    function = server.function("hello")
    assert function["counts"]["cold_starts"] == 20
    assert len(function["environments"]) == 20
    assert {e["state"] for e in function["environments"]} == {"idle-frozen"}
    again = together([lambda: invoke(client, "hello", {"sleep_ms": 50})] * 20)
    assert not any("Init Duration" in tail(a) for a in again)
    assert not any(a["body"]["cold_start"] for a in again)
    assert server.function("hello")["counts"]["cold_starts"] == 20
    cold_lines = [line for line in server.lines if line.startswith("coldlab serve: cold start: hello")]
    assert len(cold_lines) == 20


def test_status_shows_busy_then_idle_frozen(client: Any, server: ServeProcess) -> None:
    worker = threading.Thread(target=lambda: invoke(client, "hello", {"sleep_ms": 700}))
    worker.start()
    server.wait_for(
        lambda: "busy" in [e["state"] for e in server.function("hello")["environments"]], "a busy environment"
    )
    worker.join()
    assert "busy" not in [e["state"] for e in server.function("hello")["environments"]]


def test_crash_timeout_and_oom_lose_only_their_own_environment(client: Any, server: ServeProcess) -> None:
    from coldlab.sandbox import Limits, select_host

    slow, crash = together(
        [lambda: invoke(client, "hello", {"sleep_ms": 600}), lambda: invoke(client, "hello", {"crash": True})]
    )
    assert "FunctionError" not in slow and slow["body"]["message"] == "hello, world"
    assert crash["FunctionError"] == "Unhandled" and crash["body"]["errorType"] == "Runtime.ExitError"
    timed_out = invoke(client, "hello", {"sleep_ms": 3000})  # the function timeout is 1 s
    assert timed_out["body"]["errorType"] == "Sandbox.Timedout"
    if "not-limited" not in select_host().fidelity(Limits(memory_mb=128)).memory:
        oom = invoke(client, "hello", {"size": 400 * 1024 * 1024})
        assert oom["FunctionError"] == "Unhandled"
    assert invoke(client, "hello", {})["body"]["message"] == "hello, world"
    function = server.function("hello")
    assert function["concurrency"] == 0
    assert "busy" not in {e["state"] for e in function["environments"]}


def test_a_client_that_disconnects_mid_invoke_does_not_leak_the_environment(
    client: Any, server: ServeProcess
) -> None:
    invoke(client, "hello", {})
    before = server.function("hello")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.3)
    connection.request("POST", "/2015-03-31/functions/hello/invocations", body=b'{"sleep_ms": 800}')
    with pytest.raises(TimeoutError):
        connection.getresponse()
    connection.close()  # gone before the function answers
    server.wait_for(lambda: server.function("hello")["concurrency"] == 0, "the invoke to finish")
    after = server.function("hello")
    assert len(after["environments"]) == len(before["environments"])
    assert after["counts"]["invokes"] == before["counts"]["invokes"] + 1
    assert "busy" not in {e["state"] for e in after["environments"]}
    assert invoke(client, "hello", {})["body"]["message"] == "hello, world"
    assert server.function("hello")["counts"]["cold_starts"] == before["counts"]["cold_starts"]


def test_a_configuration_change_drains_old_environments(
    client: Any, server: ServeProcess, hello: Path
) -> None:
    def update() -> None:
        server.wait_for(lambda: server.function("hello")["concurrency"] == 1, "the in-flight invoke")
        client.update_function_configuration(FunctionName="hello", MemorySize=256)

    in_flight, _ = together([lambda: invoke(client, "hello", {"sleep_ms": 700}), update])
    assert in_flight["body"]["message"] == "hello, world"  # finished on its old environment
    assert "Memory Size: 128 MB" in tail(in_flight)
    fresh = invoke(client, "hello", {})
    assert "Memory Size: 256 MB" in tail(fresh) and "Init Duration" in tail(fresh)
    server.wait_for(
        lambda: len(server.function("hello")["environments"]) == 1, "the old environments to close"
    )
    assert any(line.startswith("coldlab serve: draining hello") for line in server.lines)


def test_provisioned_concurrency_serves_first_and_spills_over(
    client: Any, server: ServeProcess, hello: Path, tmp_path: Path
) -> None:
    create(client, "pc", hello, tmp_path)
    client.publish_version(FunctionName="pc")
    client.create_alias(FunctionName="pc", Name="live", FunctionVersion="1")
    client.put_provisioned_concurrency_config(
        FunctionName="pc", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    server.wait_for(lambda: server.function("pc")["provisioned"][0]["status"] == "READY", "READY")
    assert [e["kind"] for e in server.function("pc")["environments"]] == ["provisioned"]
    assert server.function("pc")["counts"]["cold_starts"] == 0
    answers = together([lambda: invoke(client, "pc", {"sleep_ms": 500}, Qualifier="live")] * 2)
    assert all(a["ExecutedVersion"] == "1" for a in answers)
    function = server.function("pc")
    assert function["counts"]["spillovers"] == 1 and function["counts"]["cold_starts"] == 1
    assert sorted(e["kind"] for e in function["environments"]) == ["on-demand", "provisioned"]
    invoke(client, "pc", {})  # $LATEST never runs on the alias's provisioned environment
    assert server.function("pc")["counts"]["cold_starts"] == 2
    client.delete_function(FunctionName="pc")


def test_provisioned_init_that_keeps_failing_ends_failed(
    client: Any, server: ServeProcess, tmp_path: Path
) -> None:
    broken = write_script_bootstrap(tmp_path / "broken", "sys.exit(3)\n")
    create(client, "broken", broken, tmp_path)
    client.publish_version(FunctionName="broken")
    client.put_provisioned_concurrency_config(
        FunctionName="broken", Qualifier="1", ProvisionedConcurrentExecutions=1
    )

    def settled() -> dict[str, Any] | None:
        got: dict[str, Any] = client.get_provisioned_concurrency_config(FunctionName="broken", Qualifier="1")
        return got if got["Status"] != "IN_PROGRESS" else None

    got = server.wait_for(settled, "the provisioned config to settle", timeout_s=60)
    assert (got["Status"], got["StatusReason"]) == ("FAILED", "FUNCTION_ERROR_INIT_FAILURE")
    assert got["AllocatedProvisionedConcurrentExecutions"] == 0
    answer = invoke(client, "broken", {}, Qualifier="1")  # still runs, on-demand
    assert answer["FunctionError"] == "Unhandled"
    client.delete_function(FunctionName="broken")


@pytest.fixture(scope="module")
def small(hello: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    args = (str(hello), "--max-concurrency", "2", "--keep-alive", "0.5")
    with ServeProcess(*args, cwd=tmp_path_factory.mktemp("small")) as serve:
        yield serve


def test_account_limit_throttles_with_its_reason(small: ServeProcess) -> None:
    client = lambda_client(small.url)
    results = together([lambda: invoke(client, "hello", {"sleep_ms": 500})] * 3)
    throttles = [r for r in results if "Error" in r]
    assert len(throttles) == 1
    assert throttles[0]["Error"]["Code"] == "TooManyRequestsException"
    assert throttles[0]["Reason"] == "ConcurrentInvocationLimitExceeded"
    assert small.function("hello")["counts"]["throttles"] == 1


def test_idle_environments_are_reclaimed_after_the_keep_alive(small: ServeProcess) -> None:
    client = lambda_client(small.url)
    invoke(client, "hello", {})
    small.wait_for(lambda: not small.function("hello")["environments"], "the reclaim")
    assert any(line.startswith("coldlab serve: reclaimed: hello") for line in small.lines)
    assert "Init Duration" in tail(invoke(client, "hello", {}))  # a new environment: cold again


def test_shutdown_leaves_no_process_or_cgroup(hello: Path, tmp_path: Path) -> None:
    serve = ServeProcess(str(hello), cwd=tmp_path)
    serve.wait_listening()
    client = lambda_client(serve.url)
    together([lambda: invoke(client, "hello", {"sleep_ms": 300})] * 2)
    pids = [e["pid"] for e in serve.function("hello")["environments"]]
    assert len(pids) == 2 and all(pids)
    cgroups = {
        line.split(":", 2)[2] for pid in pids for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    }
    cgroups = {c for c in cgroups if "coldlab" in c}
    assert serve.stop() == 143
    assert gone(pids)
    assert not [c for c in cgroups if any(Path(root + c).exists() for root in _cgroup_roots())]
    assert "coldlab serve: stopped: 2 environments shut down" in serve.lines


def _cgroup_roots() -> list[str]:
    base = Path("/sys/fs/cgroup")
    return [str(base), *(str(p) for p in base.iterdir() if p.is_dir())] if base.exists() else []


def test_a_port_in_use_is_one_line(hello: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*COLDLAB, "serve", str(hello), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"coldlab: error: port {port} on 127.0.0.1 is already in use "
        "(stop the other server or pick another --port (0 picks a free one))"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep-alive", "soon"], "coldlab: error: --keep-alive 'soon' is not SECONDS or MIN,MAX"),
        (["--parameter-overrides", "A=1"], "coldlab: error: --parameter-overrides needs --template"),
        (["/nonexistent/fn"], "coldlab: error: code path /nonexistent/fn does not exist"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    done = subprocess.run([*COLDLAB, "serve", *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
