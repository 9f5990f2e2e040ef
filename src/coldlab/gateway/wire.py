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

JSON_TYPE = "application/json"
log = logging.getLogger("coldlab.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(document: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(document, separators=(",", ":")).encode(),
        content_type=JSON_TYPE,
        headers=headers,
    )


def error_response(error: LambdaApiError) -> web.Response:
    return json_response(error.body(), error.status, {"x-amzn-ErrorType": error.code})


def service_error(message: str) -> web.Response:
    """500 ServiceException: coldlab could not do what was asked (a bug, or the OS refused)."""
    body = {"Type": "Service", "Message": message}
    return json_response(body, 500, {"x-amzn-ErrorType": "ServiceException"})


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every LambdaApiError becomes its AWS shape; any other failure a ServiceException, never a traceback."""
    try:
        return await handler(request)
    except LambdaApiError as exc:
        return error_response(exc)
    except ColdlabError as exc:
        return service_error(str(exc))
    except web.HTTPException:
        raise
    except Exception as exc:  # a bug: logged in full once, answered in the API's shape
        log.exception("coldlab serve: %s %s failed", request.method, request.path)
        return service_error(f"{type(exc).__name__}: {exc}")


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
