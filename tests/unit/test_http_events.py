"""HTTP request → payload 2.0/1.0 events, and function answers → HTTP responses (reference serve §3.2-§3.4)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldlab.gateway import http_events as ev

URL = ev.ApiContext("a" * 32, f"{'a' * 32}.lambda-url.us-east-1.on.aws", "123456789012")
API = ev.ApiContext("abcdef1234", "abcdef1234.execute-api.us-east-1.amazonaws.com", "123456789012", "Prod")
EPOCH = 1583348638.390  # 04/Mar/2020:19:03:58 +0000


def request(
    *,
    method: str = "GET",
    path: str = "/my/path",
    query: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> ev.HttpRequest:
    return ev.HttpRequest(
        method=method,
        raw_path=path,
        raw_query=query,
        headers=(("Host", "127.0.0.1:3001"), ("User-Agent", "curl/8"), *headers),
        body=body,
        source_ip="127.0.0.1",
        time=EPOCH,
        request_id="req-1",
        trace_id="Root=1-5e5ffd5e-000000000000000000000000",
        server_port=3001,
    )


# --- payload 2.0 requests -----------------------------------------------------------------------------------


def test_function_url_event_has_every_field_of_the_reference() -> None:
    event = ev.v2_event(request(query="a=1&a=2&b=x"), URL)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/my/path"
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert "pathParameters" not in event  # function URLs have none
    assert event["requestContext"] == {
        "accountId": "123456789012",
        "apiId": "a" * 32,
        "domainName": f"{'a' * 32}.lambda-url.us-east-1.on.aws",
        "domainPrefix": "a" * 32,
        "http": {
            "method": "GET",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "curl/8",
        },
        "requestId": "req-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }


def test_headers_are_lower_cased_and_repeats_comma_joined_cookies_moved_out() -> None:
    event = ev.v2_event(
        request(
            headers=(("X-Multi", "one"), ("x-multi", "two"), ("Cookie", "c1=v1; c2=v2"), ("Cookie", "c3=v3"))
        ),
        URL,
    )
    headers = event["headers"]
    assert headers["x-multi"] == "one,two"
    assert headers["host"] == "127.0.0.1:3001"
    assert "cookie" not in headers
    assert event["cookies"] == ["c1=v1", "c2=v2", "c3=v3"]
    assert all(name == name.lower() for name in headers)
    # what AWS's front end adds (the TLS ones are not: this is plain HTTP)
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == "3001"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")


def test_no_query_means_no_query_parameters_and_no_cookies_field() -> None:
    event = ev.v2_event(request(), URL)
    assert "queryStringParameters" not in event
    assert "cookies" not in event
    assert event["rawQueryString"] == ""


def test_query_values_are_decoded_and_blank_values_kept() -> None:
    event = ev.v2_event(request(query="q=a%20b&flag&e="), URL)
    assert event["queryStringParameters"] == {"q": "a b", "flag": "", "e": ""}


@pytest.mark.parametrize(
    ("content_type", "body", "encoded"),
    [
        ("application/json", b'{"a":1}', False),
        ("text/plain; charset=utf-8", "héllo".encode(), False),
        ("application/xml", b"<a/>", False),
        ("application/x-www-form-urlencoded", b"a=1&b=2", True),  # AWS sends form bodies base64
        ("multipart/form-data; boundary=x", b"--x\r\n", True),
        ("application/octet-stream", bytes(range(256)), True),
        ("text/plain", b"\xff\xfe not utf-8", True),
    ],
)
def test_body_is_text_or_base64(content_type: str, body: bytes, encoded: bool) -> None:
    event = ev.v2_event(request(method="POST", headers=(("Content-Type", content_type),), body=body), URL)
    assert event["isBase64Encoded"] is encoded
    sent = base64.b64decode(event["body"]) if encoded else event["body"].encode()
    assert sent == body


def test_http_api_route_event_carries_route_key_and_path_parameters() -> None:
    http_api = ev.ApiContext("abcdef1234", "abcdef1234.execute-api.us-east-1.amazonaws.com", "123456789012")
    event = ev.v2_event(
        request(path="/items/42"), http_api, route_key="GET /items/{id}", path_parameters={"id": "42"}
    )
    assert event["routeKey"] == "GET /items/{id}"
    assert event["requestContext"]["routeKey"] == "GET /items/{id}"
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["domainPrefix"] == "abcdef1234"
    assert event["pathParameters"] == {"id": "42"}


def test_events_encode_to_compact_utf8_json() -> None:
    event = ev.v2_event(
        request(method="POST", headers=(("content-type", "text/plain"),), body="é".encode()), URL
    )
    encoded = ev.encode_event(event)
    assert json.loads(encoded) == event
    assert b'"body":"\xc3\xa9"' in encoded


# --- payload 1.0 requests (Api / REST) -----------------------------------------------------------------


def test_rest_event_has_single_and_multi_value_fields() -> None:
    event = ev.v1_event(
        request(path="/items/42", query="a=1&a=2", headers=(("X-Multi", "one"), ("X-Multi", "two"))),
        API,
        resource="/items/{id}",
        path_parameters={"id": "42"},
    )
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["X-Multi"] == "two"  # names as sent; the last value in the single map
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["queryStringParameters"] == {"a": "2"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/items/{id}"
    assert context["stage"] == "Prod"
    assert context["path"] == "/Prod/items/42"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestTimeEpoch"] == 1583348638390
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"


def test_rest_event_without_query_or_parameters_has_nulls() -> None:
    event = ev.v1_event(request(path="/"), API, resource="/", path_parameters={})
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None


def test_rest_event_body_text_or_base64_for_bytes_that_are_not_utf8() -> None:
    text = ev.v1_event(request(method="POST", body=b"a=1"), API, resource="/", path_parameters={})
    assert (text["body"], text["isBase64Encoded"]) == ("a=1", False)
    binary = ev.v1_event(request(method="POST", body=b"\xff\x00"), API, resource="/", path_parameters={})
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00"


# --- payload 2.0 responses --------------------------------------------------------------------------------


def header(response: ev.HttpResponse, name: str) -> list[str]:
    return [value for key, value in response.headers if key.lower() == name]


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (b'{"hello": "world"}', b'{"hello":"world"}'),  # bare JSON object, re-serialised compactly
        (b'"hello"', b"hello"),  # a JSON string is sent without its quotes
        (b'["hello", 3, true]', b'["hello",3,true]'),
        (b"3", b"3"),
        (b"3.1", b"3.1"),
        (b"true", b"true"),
        (b"null", b"null"),
    ],
)
def test_answers_without_status_code_are_200_json_bodies(answer: bytes, body: bytes) -> None:
    response = ev.v2_response(answer)
    assert response.status == 200
    assert response.body == body
    assert header(response, "content-type") == ["application/json"]


def test_structured_answer_maps_status_headers_cookies_and_body() -> None:
    answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/html", "X-Num": 7, "X-Flag": True},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": "<p>hi</p>",
    }
    response = ev.v2_response(json.dumps(answer).encode())
    assert response.status == 201
    assert response.body == b"<p>hi</p>"
    assert header(response, "content-type") == ["text/html"]
    assert header(response, "x-num") == ["7"]
    assert header(response, "x-flag") == ["true"]
    assert header(response, "set-cookie") == ["a=1; Path=/", "b=2"]  # one header per cookie


def test_structured_answer_defaults_to_json_content_type_and_empty_body() -> None:
    response = ev.v2_response(b'{"statusCode": 204}')
    assert (response.status, response.body) == (204, b"")
    assert header(response, "content-type") == ["application/json"]
    with_body = ev.v2_response(b'{"statusCode":200,"body":"body123"}')
    assert with_body.body == b"body123"
    assert header(with_body, "content-type") == ["application/json"]


def test_go_zero_values_are_accepted() -> None:
    # aws-lambda-go's LambdaFunctionURLResponse{} marshals like this (no omitempty on headers/cookies)
    response = ev.v2_response(
        b'{"statusCode":0,"headers":null,"body":"","cookies":null,"isBase64Encoded":false}'
    )
    assert (response.status, response.body) == (200, b"")


def test_base64_bodies_are_decoded() -> None:
    raw = bytes(range(256))
    answer = {"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    assert ev.v2_response(json.dumps(answer).encode()).body == raw


def test_framing_headers_from_the_function_are_dropped() -> None:
    answer = {"statusCode": 200, "headers": {"Content-Length": "999", "Connection": "close"}, "body": "x"}
    response = ev.v2_response(json.dumps(answer).encode())
    assert header(response, "content-length") == []
    assert header(response, "connection") == []


def test_object_body_is_serialised() -> None:
    response = ev.v2_response(b'{"statusCode":200,"body":{"a":[1,2]}}')
    assert response.body == b'{"a":[1,2]}'


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b'{"statusCode":"200","body":"x"}',
        b'{"statusCode":true}',
        b'{"statusCode":999}',
        b'{"statusCode":200,"headers":["x"]}',
        b'{"statusCode":200,"headers":{"x":{"nested":1}}}',
        b'{"statusCode":200,"cookies":"a=1"}',
        b'{"statusCode":200,"body":"***","isBase64Encoded":true}',
    ],
)
def test_answers_that_are_no_http_response_are_malformed(answer: bytes) -> None:
    with pytest.raises(ev.MalformedResponseError):
        ev.v2_response(answer)


def test_streamed_answer_prelude_and_raw_body() -> None:
    prelude = b'{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["s=1"]}'
    response = ev.streamed_response(prelude + b"\0" * 8 + b"raw \0 bytes")
    assert response.status == 201
    assert response.body == b"raw \0 bytes"
    assert header(response, "content-type") == ["text/plain"]
    assert header(response, "set-cookie") == ["s=1"]
    with pytest.raises(ev.MalformedResponseError):
        ev.streamed_response(b"no separator")


# --- payload 1.0 responses --------------------------------------------------------------------------------


def test_rest_answer_needs_status_code_and_merges_multi_value_headers() -> None:
    answer = {
        "statusCode": 200,
        "headers": {"X-One": "1"},
        "multiValueHeaders": {"X-One": ["ignored"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "ok",
    }
    response = ev.v1_response(json.dumps(answer).encode())
    assert (response.status, response.body) == (200, b"ok")
    assert header(response, "x-one") == ["1"]
    assert header(response, "set-cookie") == ["a=1", "b=2"]
    assert header(response, "content-type") == ["application/json"]
    for nothing_inferred in (b'{"hello":"world"}', b'"hello"', b"[1]", b"oops"):
        with pytest.raises(ev.MalformedResponseError):
            ev.v1_response(nothing_inferred)


def test_error_responses_have_the_reference_bodies() -> None:
    assert (ev.FUNCTION_URL_ERROR.status, ev.FUNCTION_URL_ERROR.body) == (502, b"Internal Server Error")
    assert (ev.API_ERROR.status, ev.API_ERROR.body) == (502, b'{"message":"Internal server error"}')


# --- properties -----------------------------------------------------------------------------------------


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(json_values)
def test_any_bare_json_answer_round_trips_as_its_body(value: object) -> None:
    if isinstance(value, dict) and "statusCode" in value:
        return
    response = ev.v2_response(json.dumps(value, indent=2).encode())
    assert response.status == 200
    if isinstance(value, str):
        assert response.body == value.encode()
    else:
        assert json.loads(response.body) == value
        assert response.body == json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@given(st.binary(max_size=64), st.sampled_from(["application/json", "text/plain", "image/png", ""]))
def test_any_body_survives_the_event_encoding(body: bytes, content_type: str) -> None:
    headers = (("Content-Type", content_type),) if content_type else ()
    event = json.loads(ev.encode_event(ev.v2_event(request(method="POST", headers=headers, body=body), URL)))
    if not body:
        assert "body" not in event
        return
    sent = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    assert sent == body


@given(st.dictionaries(st.text(alphabet="abcXYZ-", min_size=1, max_size=6), st.text(max_size=6), max_size=4))
def test_query_parameters_round_trip(params: dict[str, str]) -> None:
    from urllib.parse import urlencode

    event = ev.v2_event(request(query=urlencode(params)), URL)
    assert event.get("queryStringParameters", {}) == params
