"""Function URLs and HttpApi/Api routes end to end: curl and aiohttp against a real aiohttp app whose invoke
runs real coldlab Environments (aws-lambda-go's events types and a stdlib Go function)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from coldlab.config import FunctionConfig
from coldlab.errors import ResourceNotFound
from coldlab.gateway.urls import UrlGateway
from coldlab.platform import Environment, InvocationResult
from coldlab.platform.spec import FunctionSpec, FunctionUrlSpec, RouteSpec
from support.runtime_scripts import GoBuilder

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "serve-url"
pytestmark = pytest.mark.go


@dataclass
class Served:
    """An aiohttp app (the gateway mounted after a stand-in AWS API route) on its own loop and thread."""

    base: str
    envs: dict[str, Environment]
    invoked: list[str] = field(default_factory=list)


def _spec(name: str, code: Path, **values: Any) -> FunctionSpec:
    config = FunctionConfig.create(code, function_name=name, memory_mb=128, timeout_s=3)
    return FunctionSpec(name=name, logical_id=name, config=config, source=f"test:{name}", **values)


@pytest.fixture(scope="module")
def served(go_build: GoBuilder) -> Iterator[Served]:
    httpapi = go_build("httpapi-aws-lambda-go").parent
    echo = go_build(FIXTURE).parent
    specs = [
        _spec(
            "httpapi",
            httpapi,
            function_url=FunctionUrlSpec(),
            routes=(
                RouteSpec("HttpApi", "GET", "/items/{id}"),
                RouteSpec("HttpApi", "ANY", "/files/{proxy+}"),
            ),
        ),
        _spec(
            "echo",
            echo,
            function_url=FunctionUrlSpec(),
            routes=(RouteSpec("Api", "GET", "/rest/{id}"), RouteSpec("Api", "ANY", "/legacy")),
        ),
        _spec("secure", echo, function_url=FunctionUrlSpec(auth_type="AWS_IAM")),
        _spec("stream", echo, function_url=FunctionUrlSpec(invoke_mode="RESPONSE_STREAM")),
        _spec("nourl", echo),
    ]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    envs = {spec.name: Environment(spec.config) for spec in specs if spec.function_url is not None}
    state = Served("", envs)

    async def invoke(name: str, payload: bytes) -> InvocationResult:
        state.invoked.append(name)
        env = envs.get(name.split(":", 1)[0])
        if env is None:
            raise ResourceNotFound(f"Function not found: {name}")
        return await env.invoke(payload)

    async def aws_api(request: web.Request) -> web.Response:
        return web.Response(text="aws-api")

    async def start() -> web.AppRunner:
        for env in envs.values():
            await env.start()
        app = web.Application()
        app.router.add_post("/2015-03-31/functions/{name}/invocations", aws_api)  # the AWS paths come first
        UrlGateway(invoke, specs).add_routes(app)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner

    runner = asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{port}"

    async def stop() -> None:
        await runner.cleanup()
        for env in envs.values():
            await env.close()

    try:
        yield state
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return self.headers[name.lower()][0]


def curl(tmp_path: Path, url: str, *args: str) -> Reply:
    """Debian's curl, with the response head and body written to files and parsed here."""
    head, body = tmp_path / "head", tmp_path / "body"
    subprocess.run(["curl", "-sS", "-D", str(head), "-o", str(body), *args, url], check=True, timeout=30)
    lines = head.read_bytes().decode().split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return Reply(int(lines[0].split()[1]), headers, body.read_bytes())


def fetch(method: str, url: str, **options: Any) -> Reply:
    async def go() -> Reply:
        async with aiohttp.ClientSession() as session, session.request(method, url, **options) as response:
            headers: dict[str, list[str]] = {}
            for name, value in response.headers.items():
                headers.setdefault(name.lower(), []).append(value)
            return Reply(response.status, headers, await response.read())

    return asyncio.run(go())


def respond(answer: bytes) -> dict[str, str]:
    """The header that makes the fixture function answer these exact bytes."""
    return {"x-respond": base64.b64encode(answer).decode()}


# --- function URLs with aws-lambda-go's events.APIGatewayV2HTTPRequest ---------------------------------


def test_curl_get_reaches_aws_lambda_go_as_a_payload_2_event(served: Served, tmp_path: Path) -> None:
    reply = curl(
        tmp_path, f"{served.base}/lambda-url/httpapi/my/path?a=1&a=2&b=x", "-H", "Cookie: c1=v1; c2=v2"
    )
    assert reply.status == 200
    echo = reply.json()
    assert echo["method"] == "GET"
    assert echo["path"] == "/my/path"  # the function URL prefix is not part of rawPath
    assert echo["route_key"] == "$default"
    assert echo["raw_query"] == "a=1&a=2&b=x"
    assert echo["query"] == {"a": "1,2", "b": "x"}
    assert echo["cookies"] == ["c1=v1", "c2=v2"]
    assert echo["headers"]["user-agent"].startswith("curl/")
    assert "cookie" not in echo["headers"]
    assert echo["source_ip"] == "127.0.0.1"
    assert echo["stage"] == "$default"
    assert echo["lambda_request_id"] == reply.header("x-amzn-requestid")
    assert reply.header("x-request-path") == "/my/path"
    assert reply.headers["set-cookie"] == ["served-by=httpapi-aws-lambda-go; Path=/"]
    assert reply.header("content-type") == "application/json"
    assert reply.header("x-amzn-trace-id").startswith("Root=1-")


def test_url_root_and_status_code(served: Served, tmp_path: Path) -> None:
    root = curl(tmp_path, f"{served.base}/lambda-url/httpapi")
    assert (root.status, root.json()["path"]) == (200, "/")
    teapot = curl(tmp_path, f"{served.base}/lambda-url/httpapi/x?status=418")
    assert teapot.status == 418


def test_form_post_arrives_base64_and_json_post_as_text(served: Served, tmp_path: Path) -> None:
    form = curl(tmp_path, f"{served.base}/lambda-url/httpapi/form", "-d", "a=1&b=2").json()
    assert form["is_base64_encoded"] is True
    assert form["body"] == "a=1&b=2"
    as_json = curl(
        tmp_path,
        f"{served.base}/lambda-url/httpapi/j",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"k":1}',
    ).json()
    assert (as_json["is_base64_encoded"], as_json["body"]) == (False, '{"k":1}')


def test_binary_body_round_trips_through_base64_both_ways(served: Served) -> None:
    raw = bytes(range(256)) * 64
    reply = fetch(
        "PUT",
        f"{served.base}/lambda-url/httpapi/blob?binary=1",
        data=raw,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert reply.status == 200
    assert reply.body == raw  # event base64 -> function -> isBase64Encoded answer -> decoded bytes
    assert reply.header("content-type") == "application/octet-stream"


def test_function_error_is_502_internal_server_error(served: Served, tmp_path: Path) -> None:
    reply = curl(tmp_path, f"{served.base}/lambda-url/httpapi/error")
    assert reply.status == 502
    assert reply.body == b"Internal Server Error"
    assert reply.header("x-amzn-requestid")


def test_unknown_function_and_function_without_url_are_403_access_denied(
    served: Served, tmp_path: Path
) -> None:
    for name in ("nosuch", "nourl"):
        reply = curl(tmp_path, f"{served.base}/lambda-url/{name}/")
        assert reply.status == 403
        assert reply.body == b'{"Message":null}'
        assert reply.header("x-amzn-errortype") == "AccessDeniedException"
    assert "nourl" not in served.invoked


def test_keep_alive_client_reuses_the_warm_environment(served: Served) -> None:
    async def go() -> list[int]:
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(5):
                async with session.get(f"{served.base}/lambda-url/httpapi/warm") as response:
                    await response.read()
                    statuses.append(response.status)
            return statuses

    env = served.envs["httpapi"]
    fetch("GET", f"{served.base}/lambda-url/httpapi/first")
    pid, freezes = env.pid, env.freezes
    assert asyncio.run(go()) == [200] * 5
    assert env.pid == pid  # same process: warm reuse
    assert env.freezes >= freezes + 5  # frozen between the invokes


# --- the response rules, with the stdlib fixture answering exact bytes ----------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "body", "content_type"),
    [
        (b'{"hello": "world"}', 200, b'{"hello":"world"}', "application/json"),
        (b'"hello"', 200, b"hello", "application/json"),
        (b'["hello", 3, true]', 200, b'["hello",3,true]', "application/json"),
        (b"3.1", 200, b"3.1", "application/json"),
        (b'{"statusCode":200,"body":"body123"}', 200, b"body123", "application/json"),
        (
            b'{"statusCode":404,"headers":{"Content-Type":"text/plain"},"body":"nope"}',
            404,
            b"nope",
            "text/plain",
        ),
        (b'{"statusCode":0,"headers":null,"cookies":null,"body":""}', 200, b"", "application/json"),
        (b"not json at all", 502, b"Internal Server Error", "text/plain; charset=utf-8"),
    ],
)
def test_function_url_response_rules(
    served: Served, tmp_path: Path, answer: bytes, status: int, body: bytes, content_type: str
) -> None:
    reply = curl(
        tmp_path, f"{served.base}/lambda-url/echo/", "-H", f"x-respond: {respond(answer)['x-respond']}"
    )
    assert (reply.status, reply.body, reply.header("content-type")) == (status, body, content_type)


def test_cookies_and_base64_answer(served: Served) -> None:
    answer = {
        "statusCode": 201,
        "cookies": ["a=1; Path=/", "b=2"],
        "body": base64.b64encode(b"\x00\xffbytes").decode(),
        "isBase64Encoded": True,
    }
    reply = fetch("GET", f"{served.base}/lambda-url/echo/", headers=respond(json.dumps(answer).encode()))
    assert reply.status == 201
    assert reply.headers["set-cookie"] == ["a=1; Path=/", "b=2"]
    assert reply.body == b"\x00\xffbytes"


def test_response_stream_function_url(served: Served, tmp_path: Path) -> None:
    reply = curl(tmp_path, f"{served.base}/lambda-url/stream/", "-H", "x-stream: 1")
    assert reply.status == 201
    assert reply.body == b"streamed body"
    assert reply.header("content-type") == "text/plain"
    assert reply.headers["set-cookie"] == ["s=1"]


def test_aws_iam_url_needs_a_sigv4_signature(served: Served) -> None:
    url = f"{served.base}/lambda-url/secure/signed"
    unsigned = fetch("GET", url)
    assert unsigned.status == 403
    assert unsigned.json()["Message"].startswith("Forbidden. For troubleshooting Function URL authorization")
    signing = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "lambda", "us-east-1").add_auth(
        signing
    )  # botocore's signer
    signed = fetch("GET", url, headers=dict(signing.headers.items()))
    assert signed.status == 200
    event = signed.json()  # the fixture answers with the event it got
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == "AKIDEXAMPLE"


def test_payload_over_6_mb_is_413_and_nothing_runs(served: Served) -> None:
    before = len(served.invoked)
    big = fetch("POST", f"{served.base}/lambda-url/echo/", data=b"x" * (6 * 1024 * 1024 + 1))
    assert big.status == 413
    assert big.header("x-amzn-errortype") == "RequestEntityTooLargeException"
    # under 6 MB as a body, over it as an event once base64 grows it
    grown = fetch(
        "POST",
        f"{served.base}/lambda-url/echo/",
        data=b"\xff" * (5 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert grown.status == 413
    assert len(served.invoked) == before


def test_client_that_disconnects_mid_invoke_does_not_leak_the_environment(served: Served) -> None:
    env = served.envs["echo"]

    async def hang_up() -> None:
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.get(f"{served.base}/lambda-url/echo/", headers={"x-sleep-ms": "600"})

    fetch("GET", f"{served.base}/lambda-url/echo/")
    pid = env.pid
    asyncio.run(hang_up())
    after = fetch("GET", f"{served.base}/lambda-url/echo/")  # waits for the abandoned invoke, then runs warm
    assert after.status == 200
    assert env.pid == pid
    assert env.state == "idle"


# --- HttpApi (payload 2.0) and Api (REST, payload 1.0) routes at the server root ----------------------


def test_http_api_route_with_path_parameter(served: Served, tmp_path: Path) -> None:
    echo = curl(tmp_path, f"{served.base}/items/42?x=1").json()
    assert echo["route_key"] == "GET /items/{id}"
    assert echo["path_parameters"] == {"id": "42"}
    assert echo["path"] == "/items/42"


def test_http_api_greedy_route_any_method(served: Served, tmp_path: Path) -> None:
    reply = curl(tmp_path, f"{served.base}/files/a/b%20c.txt", "-X", "DELETE")
    assert reply.status == 200
    assert reply.header("apigw-requestid")
    echo = reply.json()
    assert echo["route_key"] == "ANY /files/{proxy+}"
    assert echo["path_parameters"] == {"proxy": "a/b c.txt"}
    assert echo["method"] == "DELETE"


def test_unrouted_path_or_method_is_404_and_aws_paths_win(served: Served, tmp_path: Path) -> None:
    for method, path in (("GET", "/nothing/here"), ("POST", "/items/42"), ("GET", "/files")):
        reply = curl(tmp_path, f"{served.base}{path}", "-X", method)
        assert (reply.status, reply.body) == (404, b'{"message":"Not Found"}')
    aws = curl(tmp_path, f"{served.base}/2015-03-31/functions/x/invocations", "-d", "{}")
    assert aws.body == b"aws-api"


def test_api_route_gets_a_payload_1_event(served: Served, tmp_path: Path) -> None:
    reply = curl(tmp_path, f"{served.base}/rest/7?a=1&a=2", "-H", "X-Thing: one")
    assert reply.status == 200
    assert reply.header("x-echo") == "yes"
    event = json.loads(reply.body)
    assert event["resource"] == "/rest/{id}"
    assert event["path"] == "/rest/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "7"}
    assert event["headers"]["X-Thing"] == "one"  # REST keeps header names as sent
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["requestContext"]["stage"] == "Prod"


def test_api_route_errors_are_502_internal_server_error(served: Served) -> None:
    failed = fetch("POST", f"{served.base}/legacy", headers={"x-fail": "1"})
    assert (failed.status, failed.body) == (502, b'{"message":"Internal server error"}')
    bare = fetch("GET", f"{served.base}/legacy", headers=respond(b'{"hello":"world"}'))  # REST infers nothing
    assert (bare.status, bare.body) == (502, b'{"message":"Internal server error"}')


# --- through `coldlab serve` (a subprocess, its listening line read) ------------------------------------


def test_serve_template_routes_and_url_through_the_real_platform(go_build: GoBuilder, tmp_path: Path) -> None:
    from support.serve import ServeProcess

    hello = go_build("hello-go").parent
    template = FIXTURE.parent / "serve" / "template.yaml"
    args = ("--template", str(template), "--parameter-overrides", f"PrebuiltCode={hello}")
    # the template's Go build lands in the test's directory; Go's own build cache stays the shared one
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "GOCACHE": str(Path.home() / ".cache" / "go-build")}
    with ServeProcess(*args, env=cache) as serve:
        # the function lines follow the listening line
        serve.wait_for(
            lambda: any(line.endswith(f"url {serve.url}/lambda-url/hello/") for line in serve.lines), "url"
        )
        # the URL targets the alias (`live`, provisioned) and hello-go's bare JSON answer is the body
        url = curl(tmp_path, f"{serve.url}/lambda-url/hello/any/path")
        assert (url.status, url.header("content-type")) == (200, "application/json")
        assert url.json()["message"] == "hello, world"
        route = curl(tmp_path, f"{serve.url}/hello/ann")  # HttpApi GET /hello/{name}
        assert route.status == 200
        assert route.header("apigw-requestid")
        greedy = curl(tmp_path, f"{serve.url}/items/a/b", "-X", "PUT")  # HttpApi ANY /items/{proxy+}
        assert greedy.status == 200
        rest = curl(tmp_path, f"{serve.url}/rest/1", "-X", "POST")  # Api: a bare JSON answer is no response
        assert (rest.status, rest.body) == (502, b'{"message":"Internal server error"}')
        assert curl(tmp_path, f"{serve.url}/lambda-url/Plain/").status == 403  # no FunctionUrlConfig
        assert curl(tmp_path, f"{serve.url}/nowhere").status == 404
        hello_status = serve.function("hello")
        assert hello_status["counts"]["invokes"] >= 2


def test_serve_url_flag_event_fields_function_error_and_throttle(go_build: GoBuilder, tmp_path: Path) -> None:
    from support.serve import ServeProcess, code_dir, lambda_client

    echo = code_dir(go_build(FIXTURE), tmp_path / "echo")
    with ServeProcess("--url", str(echo)) as serve:
        reply = curl(tmp_path, f"{serve.url}/lambda-url/echo/p%20q?x=1&x=2", "-H", "Cookie: a=b")
        assert reply.status == 200
        event = reply.json()
        assert event["rawPath"] == "/p%20q"
        assert event["queryStringParameters"] == {"x": "1,2"}
        assert event["cookies"] == ["a=b"]
        assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
        assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
        failed = curl(tmp_path, f"{serve.url}/lambda-url/echo/", "-H", "x-fail: 1")
        assert (failed.status, failed.body) == (502, b"Internal Server Error")
        lambda_client(serve.url).put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
        throttled = curl(tmp_path, f"{serve.url}/lambda-url/echo/")
        assert throttled.status == 429
        assert throttled.header("x-amzn-errortype") == "TooManyRequestsException"
        serve.wait_for(
            lambda: any(line.startswith("echo | serve-url got /p%20q") for line in serve.lines), "log"
        )
    assert serve.proc.returncode == 143  # SIGTERM, after a clean shutdown
