"""HTTP request → Lambda event, and the function's answer → HTTP response (reference serve-and-cloudrun §3).

Pure: no I/O, no clock (the request carries its time and id). Function URLs and HttpApi routes get payload
format 2.0 (§3.2, §3.4); Api routes (REST) get payload 1.0 as API Gateway REST and `sam local start-api`
send it (§3.4). Responses map back per §3.3 (2.0: structured, bare JSON and plain-string rules) and §3.4 (1.0:
`statusCode` required, nothing inferred).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit (reference §3.1)
STREAMING_CONTENT_TYPE = "application/vnd.awslambda.http-integration-response"
_STREAM_SEPARATOR = b"\0" * 8  # between the JSON prelude and the body of a streamed HTTP response
_TEXT_MARKERS = ("text", "json", "xml")  # LocalStack's rule (§3.2): other content types are binary
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Hop-by-hop or framing headers: the server computes these itself, a function's copy would corrupt the reply.
_DROPPED_RESPONSE_HEADERS = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request as the gateway saw it."""

    method: str
    raw_path: str  # percent-encoded, as sent, without the query
    raw_query: str  # without the leading '?'
    headers: tuple[tuple[str, str], ...]  # in the order sent, names as sent
    body: bytes
    source_ip: str
    time: float  # epoch seconds
    request_id: str
    trace_id: str  # the X-Amzn-Trace-Id the gateway adds (Root=1-...)
    server_port: int = 443
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive)."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


@dataclass(frozen=True)
class ApiContext:
    """Which API (or function URL) took the request: the ids the event's requestContext names."""

    api_id: str
    domain_name: str
    account_id: str
    stage: str = "$default"

    @property
    def domain_prefix(self) -> str:
        return self.domain_name.split(".", 1)[0]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class MalformedResponseError(ValueError):
    """The function's answer cannot be mapped to an HTTP response (the gateway answers 502)."""


FUNCTION_URL_ERROR = HttpResponse(
    502, (("content-type", "text/plain; charset=utf-8"),), b"Internal Server Error"
)
# What `sam local start-api` answers for a function error or a malformed answer on Api/HttpApi routes (§3.4).
API_ERROR = HttpResponse(502, (("content-type", JSON_TYPE),), b'{"message":"Internal server error"}')
API_NOT_FOUND = HttpResponse(404, (("content-type", JSON_TYPE),), b'{"message":"Not Found"}')


def request_time(epoch: float) -> str:
    """`12/Mar/2020:19:03:58 +0000`, in English whatever the locale."""
    t = time.gmtime(epoch)
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{clock} +0000"


def _encoded_body(request: HttpRequest) -> tuple[str, bool]:
    """The body as the event carries it: text as is, anything else base64 (and say which)."""
    content_type = (request.header("content-type") or "").lower()
    if any(marker in content_type for marker in _TEXT_MARKERS):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _v2_headers(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """Lower-cased headers with repeats comma-joined, and the cookies (moved out of the headers)."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies += [part.strip() for part in value.split(";") if part.strip()]
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    _add_proxy_headers(headers, request)
    return headers, cookies


def _add_proxy_headers(headers: dict[str, str], request: HttpRequest) -> None:
    """The headers AWS's front end adds (§3.2); the TLS ones are left out: this server speaks plain HTTP."""
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.server_port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", request.trace_id)


def _v2_query(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def v2_event(
    request: HttpRequest,
    context: ApiContext,
    *,
    route_key: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Payload format 2.0: a function URL's event (route_key `$default`) or an HttpApi route's."""
    headers, cookies = _v2_headers(request)
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": request.raw_path}
    event["rawQueryString"] = request.raw_query
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _v2_query(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": context.account_id,
        "apiId": context.api_id,
        "domainName": context.domain_name,
        "domainPrefix": context.domain_prefix,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": context.stage,
        "time": request_time(request.time),
        "timeEpoch": int(request.time * 1000),
    }
    if path_parameters is not None:  # HttpApi routes only; function URLs have none (§3.2)
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        event["body"], event["isBase64Encoded"] = _encoded_body(request)
    else:
        event["isBase64Encoded"] = False
    return event


def v1_event(
    request: HttpRequest, context: ApiContext, *, resource: str, path_parameters: Mapping[str, str]
) -> dict[str, Any]:
    """Payload format 1.0 (Api/REST routes): single- and multi-value headers and query, names as sent."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value  # the single-value map keeps the last value, as REST APIs do
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(request.raw_query, keep_blank_values=True):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    body: str | None = None
    encoded = False
    if request.body:
        # REST APIs pass text through; bytes that are not UTF-8 arrive base64 (binary media types on).
        try:
            body = request.body.decode("utf-8")
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(request.body).decode("ascii"), True
    return {
        "resource": resource,
        "path": request.raw_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": context.account_id,
            "apiId": context.api_id,
            "domainName": context.domain_name,
            "domainPrefix": context.domain_prefix,
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent")},
            "path": f"/{context.stage}{request.raw_path}",
            "protocol": request.protocol,
            "requestId": request.request_id,
            "requestTime": request_time(request.time),
            "requestTimeEpoch": int(request.time * 1000),
            "resourceId": context.api_id[:6],
            "resourcePath": resource,
            "stage": context.stage,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


def encode_event(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


# --- responses --------------------------------------------------------------------------------------------


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponseError(f"header {name!r} has a {type(value).__name__} value")


def _headers(raw: Any, field: str) -> list[tuple[str, str]]:
    if raw is None:  # Go's zero-value response sends "headers":null (§3.3)
        return []
    if not isinstance(raw, dict):
        raise MalformedResponseError(f"{field} is not an object")
    return [(str(name), _header_value(name, value)) for name, value in raw.items()]


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponseError("statusCode is not an integer")
    if value == 0:  # Go's zero value; AWS's answer is unsourced, SAM answers 200 (§3.3, §9)
        return 200
    if not 100 <= value <= 599:
        raise MalformedResponseError(f"statusCode {value} is not an HTTP status")
    return value


def _body(document: dict[str, Any]) -> bytes:
    body = document.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        return _compact(body)  # an object body is sent serialised, as LocalStack's recorded tests show
    if document.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedResponseError("isBase64Encoded is true but body is not base64") from exc
    return body.encode("utf-8")


def _finish(status: int, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
    kept = [(name, value) for name, value in headers if name.lower() not in _DROPPED_RESPONSE_HEADERS]
    if not any(name.lower() == "content-type" for name, _ in kept):
        kept.insert(0, ("content-type", JSON_TYPE))  # the default even for structured answers (§3.3)
    return HttpResponse(status, tuple(kept), body)


def _structured_v2(document: dict[str, Any]) -> HttpResponse:
    headers = _headers(document.get("headers"), "headers")
    cookies = document.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
            raise MalformedResponseError("cookies is not a list of strings")
        headers += [("set-cookie", cookie) for cookie in cookies]  # one header per cookie
    return _finish(_status(document["statusCode"]), headers, _body(document))


def v2_response(payload: bytes) -> HttpResponse:
    """A payload-2.0 answer (function URL, HttpApi) as HTTP; MalformedResponseError when it cannot be one."""
    if not payload.strip():
        return _finish(200, [], b"")
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponseError("the answer is not JSON") from exc
    if isinstance(document, dict) and "statusCode" in document:
        return _structured_v2(document)
    if isinstance(document, str):
        return _finish(200, [], document.encode("utf-8"))  # a JSON string is sent without its quotes
    return _finish(200, [], _compact(document))  # any other JSON is the body, re-serialised compactly


def v1_response(payload: bytes) -> HttpResponse:
    """A payload-1.0 answer (Api routes): `{statusCode, headers?, multiValueHeaders?, body, ...}` only."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponseError("the answer is not JSON") from exc
    if not isinstance(document, dict) or "statusCode" not in document:
        raise MalformedResponseError("a REST (Api) answer must be an object with statusCode")
    headers = _headers(document.get("headers"), "headers")
    multi = document.get("multiValueHeaders")
    if multi is not None:
        if not isinstance(multi, dict) or not all(isinstance(v, list) for v in multi.values()):
            raise MalformedResponseError("multiValueHeaders is not an object of lists")
        single = {name.lower() for name, _ in headers}
        for name, values in multi.items():
            if name.lower() in single:
                continue  # the same header in both maps: API Gateway sends the single value once
            headers += [(str(name), _header_value(name, value)) for value in values]
    return _finish(_status(document["statusCode"]), headers, _body(document))


def streamed_response(payload: bytes) -> HttpResponse:
    """A RESPONSE_STREAM answer: JSON prelude `{statusCode, headers, cookies}`, 8 NUL bytes, the raw body."""
    prelude, separator, body = payload.partition(_STREAM_SEPARATOR)
    if not separator:
        raise MalformedResponseError("a streamed HTTP answer has no prelude separator")
    try:
        document = json.loads(prelude)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponseError("the streamed answer's prelude is not JSON") from exc
    if not isinstance(document, dict):
        raise MalformedResponseError("the streamed answer's prelude is not an object")
    document = {**document, "statusCode": document.get("statusCode", 200), "body": None}
    shaped = _structured_v2(document)
    return HttpResponse(shaped.status, shaped.headers, body)
