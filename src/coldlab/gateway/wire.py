"""The Lambda API's wire details shared by the gateway's handlers: JSON bodies and error shapes.

botocore reads the error code from `x-amzn-ErrorType` and the message from the body's `Message`/`message`
(reference serve §2.1); every error the platform raises on purpose is a LambdaApiError that knows both.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from coldlab.errors import ColdlabError, InvalidParameterValue, LambdaApiError
from coldlab.http11 import Reply

JSON_TYPE = "application/json"
log = logging.getLogger("coldlab.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_reply(document: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(document, separators=(",", ":")).encode(), JSON_TYPE, headers or {})


def to_web(reply: Reply) -> web.Response:
    return web.Response(
        status=reply.status, body=reply.body, content_type=reply.content_type, headers=dict(reply.headers)
    )


def json_response(document: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return to_web(json_reply(document, status, headers))


def error_reply(error: Exception, request_line: str = "") -> Reply:
    """Every LambdaApiError in its AWS shape; any other failure a ServiceException, never a traceback."""
    if isinstance(error, LambdaApiError):
        return json_reply(error.body(), error.status, {"x-amzn-ErrorType": error.code})
    if isinstance(error, ColdlabError):
        return service_error(str(error))
    log.error("coldlab serve: %s failed", request_line or "a request", exc_info=error)  # a bug: logged once
    return service_error(f"{type(error).__name__}: {error}")


def service_error(message: str) -> Reply:
    """500 ServiceException: coldlab could not do what was asked (a bug, or the OS refused)."""
    return json_reply({"Type": "Service", "Message": message}, 500, {"x-amzn-ErrorType": "ServiceException"})


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors in the API's shapes (error_reply); aiohttp's own HTTP errors pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - answered in the API's shape, a bug logged (error_reply)
        return to_web(error_reply(exc, f"{request.method} {request.path}"))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object ({} when empty); 400 when it is not one."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidParameterValue(f"Could not parse request body into json: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidParameterValue("Could not parse request body into json: not an object")
    return body


def int_member(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue(
            f"1 validation error detected: Value {json.dumps(value)} at '{key[0].lower()}{key[1:]}' "
            "failed to satisfy constraint: Member must not be null and must be an integer"
        )
    return value
