"""examples/httpapi-aws-lambda-go: an events.APIGatewayV2HTTPRequest handler, given payload format 2.0
events as API Gateway HTTP APIs and function URLs send them, answers with events.APIGatewayV2HTTPResponse."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from support.lambda_go import HTTPAPI, MODES, GoFunction, build, invoke_all, reply
from support.runtime_scripts import GoBuilder

pytestmark = pytest.mark.go

RAW_BODY = "naïve bytes: ".encode() + bytes([0, 255, 254])  # not UTF-8: it must travel as base64


@pytest.fixture(scope="module", params=MODES)
def httpapi(request: pytest.FixtureRequest, go_build: GoBuilder) -> GoFunction:
    return build(go_build, HTTPAPI, request.param)


def http_event(
    path: str,
    *,
    method: str = "GET",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    body: bytes | None = None,
) -> bytes:
    """A payload format 2.0 event (the shape function URLs and HTTP APIs send)."""
    query = query or {}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": {"host": "abc.lambda-url.us-east-1.on.aws", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc",
            "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "coldlab-tests",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 1796083200000,
        },
        "isBase64Encoded": body is not None,
    }
    if query:
        event["queryStringParameters"] = query
    if cookies:
        event["cookies"] = cookies
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return json.dumps(event).encode()


def test_request_echo_status_cookies_and_base64_body(httpapi: GoFunction) -> None:
    echo_event = http_event(
        "/items/42",
        method="POST",
        query={"status": "201", "q": "go"},
        headers={"content-type": "application/octet-stream", "x-custom": "yes"},
        cookies=["session=abc", "theme=dark"],
        body=RAW_BODY,
    )
    binary_event = http_event("/raw", method="PUT", query={"binary": "1"}, body=RAW_BODY)
    results = invoke_all(httpapi.code, [(echo_event, {}), (binary_event, {})], memory_mb=512)
    echoed, binary = (reply(result) for result in results)

    assert echoed["statusCode"] == 201  # chosen by the request
    assert echoed["headers"] == {"content-type": "application/json", "x-request-path": "/items/42"}
    assert echoed["cookies"] == ["served-by=httpapi-aws-lambda-go; Path=/"]
    assert "isBase64Encoded" not in echoed  # omitempty: a text body
    body = json.loads(echoed["body"])
    assert body["method"] == "POST"
    assert body["path"] == "/items/42"
    assert body["raw_query"] == "status=201&q=go"
    assert body["query"] == {"status": "201", "q": "go"}
    assert body["headers"]["x-custom"] == "yes"
    assert body["cookies"] == ["session=abc", "theme=dark"]
    assert body["is_base64_encoded"] is True
    assert base64.b64decode(body["body_base64"]) == RAW_BODY  # decoded by the handler, re-encoded to show
    assert body["body_bytes"] == len(RAW_BODY)
    assert body["body"] == ""  # not UTF-8, so not shown as text
    assert body["source_ip"] == "127.0.0.1"
    assert body["request_id"] == "req-1"
    assert body["lambda_request_id"] == results[0].request_id

    assert binary["statusCode"] == 200
    assert binary["isBase64Encoded"] is True
    assert binary["headers"]["content-type"] == "application/octet-stream"
    assert base64.b64decode(binary["body"]) == RAW_BODY


def test_status_from_a_header_bad_status_and_a_handler_error(httpapi: GoFunction) -> None:
    teapot, bad, failed, text = invoke_all(
        httpapi.code,
        [
            (http_event("/tea", headers={"x-status": "418"}), {}),
            (http_event("/x", query={"status": "nine"}), {}),
            (http_event("/error"), {}),
            (http_event("/text", method="POST", body=b"plain words"), {}),
        ],
        memory_mb=512,
    )
    assert reply(teapot)["statusCode"] == 418
    assert reply(bad)["statusCode"] == 400
    assert "is not an HTTP status code" in json.loads(reply(bad)["body"])["error"]
    assert failed.function_error == "Unhandled"
    assert reply(failed) == {"errorMessage": "failing on purpose for /error", "errorType": "RouteError"}
    assert not text.cold  # the error did not end the process
    assert json.loads(reply(text)["body"])["body"] == "plain words"
