"""The seed's graceful-shutdown claim through `coldlab serve` (issue 14 item 4), with the SAM template of
tests/fixtures/serve-emf/shutdown-template.yaml: the same buffering aws-lambda-go function served without an
extension (`lost`: when serve reclaims the idle environment the runtime gets no SIGTERM and the buffer is
gone) and with a local layer carrying extension-go (`flushed`: SIGTERM within the budget, the buffer
flushed, the extension gets SHUTDOWN), on reclaim and on the server's own shutdown; the server's log shows
the shutdown lines. Assertions are on files, log lines and processes, never on elapsed time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.extensions_go import EXTENSION, SIGTERM_FN, built, make_layer, running, shared_dir
from support.runtime_scripts import GoBuilder, gone
from support.serve import ServeProcess, lambda_client

pytestmark = pytest.mark.go
TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "serve-emf" / "shutdown-template.yaml"


@pytest.fixture
def shared() -> Iterator[Path]:
    yield from shared_dir()


@pytest.fixture(scope="module")
def parts(go_build: GoBuilder, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return built(go_build, SIGTERM_FN), make_layer(go_build, tmp_path_factory.mktemp("layers"))


def serve(parts: tuple[Path, Path], shared: Path, tmp_path: Path, keep_alive: str) -> ServeProcess:
    code, layer = parts
    overrides = [f"FunctionCode={code}", f"LayerDir={layer}", f"SharedDir={shared}"]
    args = ["--template", str(TEMPLATE), "--keep-alive", keep_alive]
    for override in overrides:
        args += ["--parameter-overrides", override]
    return ServeProcess(*args, cwd=tmp_path)


def invoke_twice(server: ServeProcess, name: str) -> list[int]:
    """Two invokes on one environment: the second waits until the first's environment is frozen again (the
    answer comes at /response, before the runtime is back on /next)."""
    client, buffered = lambda_client(server.url), []
    for n in (1, 2):
        answer = client.invoke(FunctionName=name, Payload=json.dumps({"n": n}).encode())
        buffered.append(json.loads(answer["Payload"].read())["buffered"])
        server.wait_for(
            lambda: {env["state"] for env in server.function(name)["environments"]} == {"idle-frozen"},
            f"{name}'s environment to be frozen",
        )
    return buffered


def pids(server: ServeProcess, name: str) -> list[int]:
    return [env["pid"] for env in server.function(name)["environments"] if env["pid"]]


def log(server: ServeProcess, name: str) -> list[str]:
    return [line.split(" | ", 1)[1] for line in server.lines if line.startswith(f"{name} | ")]


def test_reclaim_loses_the_buffer_without_an_extension_and_flushes_it_with_one(
    parts: tuple[Path, Path], shared: Path, tmp_path: Path
) -> None:
    server = serve(parts, shared, tmp_path, keep_alive="3")
    with server:
        assert invoke_twice(server, "lost") == [1, 2]
        assert invoke_twice(server, "flushed") == [1, 2]
        lost_pids, flushed_pids = pids(server, "lost"), pids(server, "flushed")
        assert lost_pids and flushed_pids
        server.wait_for(lambda: server.function("lost")["counts"]["reclaims"] == 1, "lost to be reclaimed")
        server.wait_for(lambda: server.function("flushed")["counts"]["reclaims"] == 1, "flushed reclaimed")
        server.wait_for(
            lambda: any(line.startswith("SHUTDOWN ") for line in log(server, "flushed")), "the shutdown phase"
        )
        server.wait_for(lambda: gone(lost_pids + flushed_pids), "the reclaimed processes to exit")
        server.wait_for(lambda: running(EXTENSION) == [], "the extension to exit")
        lost, flushed = log(server, "lost"), log(server, "flushed")
    # No extension: SIGKILL only, the two buffered events are gone.
    assert not (shared / "lost.txt").exists()
    assert "Runtime: SIGKILL (no extension is registered, so no SIGTERM)" in lost
    assert not any(line.startswith("sigterm:") for line in lost)
    # An external extension from the template's layer: SIGTERM, the flush made it within the budget.
    assert (shared / "flushed.txt").read_text().splitlines() == ['{"n": 1}', '{"n": 2}']
    assert "EXTENSION\tName: extension-go\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in flushed
    assert "sigterm: flushed 2 events" in flushed
    shutdown = next(line for line in flushed if line.startswith("SHUTDOWN "))
    assert shutdown.startswith("SHUTDOWN Reason: spindown\tBudget: 2000 ms\tRuntime Share: 500 ms")
    assert (shared / "extension.txt").read_text().splitlines()[-1] == "shutdown spindown"
    assert any("reclaimed: flushed" in line for line in server.lines)


def test_the_server_shutting_down_runs_the_shutdown_phase(
    parts: tuple[Path, Path], shared: Path, tmp_path: Path
) -> None:
    server = serve(parts, shared, tmp_path, keep_alive="3600")
    with server:
        assert invoke_twice(server, "flushed") == [1, 2]
        assert invoke_twice(server, "lost") == [1, 2]
        environment_pids = pids(server, "flushed") + pids(server, "lost")
    assert server.proc.returncode == 143
    assert (shared / "flushed.txt").read_text().splitlines() == ['{"n": 1}', '{"n": 2}']
    assert not (shared / "lost.txt").exists()
    assert "sigterm: flushed 2 events" in log(server, "flushed")
    assert any(
        line.startswith("SHUTDOWN Reason: spindown\tBudget: 2000 ms") for line in log(server, "flushed")
    )
    assert "Runtime: SIGKILL (no extension is registered, so no SIGTERM)" in log(server, "lost")
    assert "coldlab serve: stopped: 2 environments shut down" in server.lines
    assert gone(environment_pids) and running(EXTENSION) == []
