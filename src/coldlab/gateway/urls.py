"""Function URLs and HttpApi/Api routes as a piece any aiohttp app can mount (`UrlGateway.add_routes`).

Shape: a function URL is the path prefix `/lambda-url/{function_name}/` on the server (one port for every
function; the rest of the path is the function's rawPath). The template's HttpApi/Api routes are served at the
server's root, matched after every route the app registered before `add_routes` (the AWS API paths win).
The gateway only maps HTTP to events and back; the platform (the `invoke` callable) runs the function.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from coldlab.errors import RequestTooLarge, ResourceNotFound, TooManyRequests
from coldlab.gateway import http_events as ev
from coldlab.gateway.routes import Match, Route, RouteTable
from coldlab.platform.result import InvocationResult
from coldlab.platform.spec import FunctionSpec

Invoke = Callable[[str, bytes], Awaitable[InvocationResult]]
URL_PREFIX = "/lambda-url/"
_READ_CHUNK = 64 * 1024
_SAM_API_IDS = {"HttpApi": "ServerlessHttpApi", "Api": "ServerlessRestApi"}  # SAM's implicit APIs
_STAGES = {"HttpApi": "$default", "Api": "Prod"}  # SAM's default stage names
_FORBIDDEN_MESSAGE = (
    "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
)


@dataclass(frozen=True)
class _UrlTarget:
    qualified: str  # what `invoke` is given: the function, or `function:alias` (the URL targets the alias)
    auth_type: str
    streaming: bool
    context: ev.ApiContext


def url_id(spec: FunctionSpec) -> str:
    """A stable 32-character lowercase URL id (the shape AWS's ids have), from the function's ARN."""
    return hashlib.sha256(spec.config.function_arn.encode()).hexdigest()[:32]


def _qualified(spec: FunctionSpec) -> str:
    return f"{spec.name}:{spec.alias}" if spec.alias else spec.name


def _api_context(api: str, spec: FunctionSpec) -> ev.ApiContext:
    config = spec.config
    api_id = hashlib.sha256(f"{config.account_id}:{config.region}:{_SAM_API_IDS[api]}".encode()).hexdigest()[
        :10
    ]
    domain = f"{api_id}.execute-api.{config.region}.amazonaws.com"
    return ev.ApiContext(api_id, domain, config.account_id, _STAGES[api])


def _json_response(status: int, body: dict[str, Any], error_type: str | None = None) -> web.Response:
    headers = {"x-amzn-ErrorType": error_type} if error_type else None
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":")).encode(),
        content_type=ev.JSON_TYPE,
        headers=headers,
    )


def _no_url() -> web.Response:
    """What AWS answers for an unknown function URL (reference §3.3)."""
    return _json_response(403, {"Message": None}, "AccessDeniedException")


class UrlGateway:
    """Function URLs (every spec with `function_url`, or all with `url_for_all`) and the template's routes."""

    def __init__(self, invoke: Invoke, specs: Iterable[FunctionSpec], *, url_for_all: bool = False) -> None:
        self._invoke = invoke
        self._specs = {spec.name: spec for spec in specs}
        self._urls: dict[str, _UrlTarget] = {}
        routes: list[Route] = []
        for spec in self._specs.values():
            url = spec.function_url
            if url is not None or url_for_all:
                config = spec.config
                uid = url_id(spec)
                context = ev.ApiContext(uid, f"{uid}.lambda-url.{config.region}.on.aws", config.account_id)
                self._urls[spec.name] = _UrlTarget(
                    _qualified(spec),
                    url.auth_type if url else "NONE",
                    bool(url and url.invoke_mode == "RESPONSE_STREAM"),
                    context,
                )
            routes += [Route.compile(r.api, r.method, r.path, spec.name, spec.source) for r in spec.routes]
        self.routes = RouteTable(routes)  # raises UsageError for a bad or duplicated route

    def url_paths(self) -> dict[str, str]:
        """Each function's URL path on this server, for the startup lines and the status JSON."""
        return {name: f"{URL_PREFIX}{name}/" for name in self._urls}

    def add_routes(self, app: web.Application) -> None:
        """Mount the URLs, then (only if the template declares any) the root catch-all for its routes."""
        app.router.add_route("*", URL_PREFIX + "{function_name}", self._handle_url)
        app.router.add_route("*", URL_PREFIX + "{function_name}/{tail:.*}", self._handle_url)
        if self.routes:
            app.router.add_route("*", "/{tail:.*}", self._handle_route)

    # --- function URLs ---------------------------------------------------------------------------------

    async def _handle_url(self, request: web.Request) -> web.StreamResponse:
        target = self._urls.get(request.match_info["function_name"])
        if target is None:
            return _no_url()
        if target.auth_type == "AWS_IAM" and not _signed(request):
            # Only the presence of a SigV4 Authorization header is checked: there are no IAM users here.
            return _json_response(403, {"Message": _FORBIDDEN_MESSAGE}, "AccessDeniedException")
        raw_path = request.rel_url.raw_path[len(URL_PREFIX) + len(_raw_name(request)) :] or "/"
        try:
            http = await _http_request(request, raw_path)
            event = ev.v2_event(http, target.context)
            if target.auth_type == "AWS_IAM":
                event["requestContext"]["authorizer"] = {"iam": _iam(request, target.context.account_id)}
            result = await self._call(target.qualified, event)
        except ResourceNotFound:
            return _no_url()  # deleted since the server started
        except TooManyRequests:
            return _json_response(429, {"Message": "Rate Exceeded."}, "TooManyRequestsException")
        except RequestTooLarge:
            return _json_response(413, {"Message": _TOO_LARGE_MESSAGE}, RequestTooLarge.code)
        return _send(http, result, _url_answer(result, target.streaming), ev.FUNCTION_URL_ERROR)

    # --- HttpApi / Api routes --------------------------------------------------------------------------

    async def _handle_route(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        found = self.routes.match(request.method, raw_path)
        if found is None:
            return _to_web(ev.API_NOT_FOUND)
        spec = self._specs[found.route.target]
        try:
            http = await _http_request(request, raw_path)
            event = _route_event(http, _api_context(found.route.api, spec), found)
            result = await self._call(_qualified(spec), event)
        except RequestTooLarge:
            return _json_response(413, {"message": "Request Entity Too Large"})
        except TooManyRequests:
            return _json_response(429, {"message": "Too Many Requests"})
        except ResourceNotFound:
            return _to_web(ev.API_ERROR)
        if found.route.api == "Api":
            return _send(http, result, _answer(ev.v1_response, result), ev.API_ERROR)
        response = _send(http, result, _answer(ev.v2_response, result), ev.API_ERROR)
        response.headers["apigw-requestid"] = http.request_id  # HTTP APIs name their own request id
        return response

    async def _call(self, name: str, event: dict[str, Any]) -> InvocationResult:
        payload = ev.encode_event(event)
        if len(payload) > ev.MAX_EVENT_BYTES:  # base64 grows a body: the event is what Lambda limits
            raise RequestTooLarge(_TOO_LARGE_MESSAGE)
        return await self._invoke(name, payload)


_TOO_LARGE_MESSAGE = (
    f"Request must be smaller than {ev.MAX_EVENT_BYTES} bytes for the InvokeFunction operation"
)


def _route_event(http: ev.HttpRequest, context: ev.ApiContext, found: Match) -> dict[str, Any]:
    route = found.route
    if route.api == "Api":
        return ev.v1_event(http, context, resource=route.template, path_parameters=found.path_parameters)
    params = None if route.is_default else found.path_parameters
    return ev.v2_event(http, context, route_key=route.route_key, path_parameters=params)


def _url_answer(result: InvocationResult, streaming: bool) -> ev.HttpResponse | None:
    if streaming and result.content_type.startswith(ev.STREAMING_CONTENT_TYPE):
        return _answer(ev.streamed_response, result)
    return _answer(ev.v2_response, result)


def _answer(mapping: Callable[[bytes], ev.HttpResponse], result: InvocationResult) -> ev.HttpResponse | None:
    """The mapped answer, or None for a function error or an answer that is no HTTP response (502)."""
    if not result.ok:
        return None
    try:
        return mapping(result.payload)
    except ev.MalformedResponseError:
        return None


def _send(
    http: ev.HttpRequest, result: InvocationResult, answer: ev.HttpResponse | None, error: ev.HttpResponse
) -> web.Response:
    response = _to_web(answer or error)
    response.headers["x-amzn-RequestId"] = result.request_id
    response.headers["X-Amzn-Trace-Id"] = http.trace_id
    return response


def _to_web(answer: ev.HttpResponse) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(answer.headers)
    return web.Response(status=answer.status, body=answer.body, headers=headers)


def _raw_name(request: web.Request) -> str:
    """The function-name segment as sent (percent-encoded), to cut the prefix off the raw path."""
    return request.rel_url.raw_path[len(URL_PREFIX) :].split("/", 1)[0]


def _signed(request: web.Request) -> bool:
    return request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 ")


def _iam(request: web.Request, account_id: str) -> dict[str, Any]:
    """`requestContext.authorizer.iam` from the SigV4 credential scope (access key only; nothing verified)."""
    credential = request.headers.get("Authorization", "").partition("Credential=")[2]
    access_key = credential.split("/", 1)[0]
    return {
        "accessKey": access_key,
        "accountId": account_id,
        "callerId": access_key,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": f"arn:aws:iam::{account_id}:user/coldlab",
        "userId": access_key,
    }


async def _http_request(request: web.Request, raw_path: str) -> ev.HttpRequest:
    """Read the request (body capped at the payload limit) into the pure value the event is built from."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK):
        size += len(chunk)
        if size > ev.MAX_EVENT_BYTES:
            raise RequestTooLarge(_TOO_LARGE_MESSAGE)
        chunks.append(chunk)
    now = time.time()
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    return ev.HttpRequest(
        method=request.method,
        raw_path=raw_path,
        raw_query=request.rel_url.raw_query_string,
        headers=tuple(
            (k.decode(errors="replace"), v.decode(errors="replace")) for k, v in request.raw_headers
        ),
        body=b"".join(chunks),
        source_ip=request.remote or "127.0.0.1",
        time=now,
        request_id=str(uuid.uuid4()),
        trace_id=f"Root=1-{int(now):08x}-{secrets.token_hex(12)}",
        server_port=int(sockname[1]) if sockname else 80,
        protocol=f"HTTP/{request.version.major}.{request.version.minor}",
    )
