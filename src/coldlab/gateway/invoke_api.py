"""`POST /2015-03-31/functions/{name}/invocations`: the Invoke API as boto3 and the AWS CLI speak it.

RequestResponse → 200 and the payload; Event → 202 once the event is committed to the durable queue (its
request id in x-amzn-RequestId), delivered by the platform; DryRun → 204, nothing run
(reference lambda-contract §7). Size limits are checked before anything starts: 6 MB synchronous, 1 MB
Event (413 RequestEntityTooLargeException, the code AWS sends though the model lacks it).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json

from aiohttp import web

from coldlab.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from coldlab.gateway.wire import Handler
from coldlab.platform.result import InvocationResult
from coldlab.platform.service import LambdaService, cut_off
from coldlab.runtime.model import Outcome

SYNC_MAX_BYTES = 6 * 1024 * 1024  # 6291456
EVENT_MAX_BYTES = 1024 * 1024  # now 1 MB (was 256 KB)
TAIL_BYTES = 4096
CLIENT_CONTEXT_MAX_BYTES = 3583
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def log_tail(result: InvocationResult) -> str:
    """X-Amz-Log-Result: the base64 of the last 4 KB of the invocation's log."""
    text = "".join(line + "\n" for line in result.log_lines).encode()
    return base64.b64encode(text[-TAIL_BYTES:]).decode()


def _too_large() -> RequestTooLarge:
    return RequestTooLarge(
        f"Request must be smaller than {SYNC_MAX_BYTES} bytes for the InvokeFunction operation"
    )


def _client_context(request: web.Request) -> str | None:
    raw = request.headers.get("X-Amz-Client-Context")
    if raw is None:
        return None
    if len(raw) > CLIENT_CONTEXT_MAX_BYTES:
        raise InvalidParameterValue(f"Client context must be at most {CLIENT_CONTEXT_MAX_BYTES} bytes")
    try:
        text = base64.b64decode(raw, validate=True).decode()
        json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestContent("Client context must be a valid Base64-encoded JSON object.") from exc
    return text


async def _payload(request: web.Request) -> bytes:
    """The body, refused before it is read when its declared length is over the limit."""
    if request.content_length is not None and request.content_length > SYNC_MAX_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while size <= SYNC_MAX_BYTES:  # read(n) returns what has arrived, up to n: read until the end
        chunk = await request.content.read(SYNC_MAX_BYTES + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise _too_large()


def _check_json(payload: bytes) -> bytes:
    if not payload.strip():
        return b"{}"  # an invoke without a payload hands the function `{}`
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from exc
    return payload


def invoke_handler(service: LambdaService) -> Handler:
    async def invoke(request: web.Request) -> web.StreamResponse:
        kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind not in INVOCATION_TYPES:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )
        payload = await _payload(request)
        name = request.match_info["name"]
        qualifier = request.query.get("Qualifier")
        target = service.registry.resolve(name, qualifier)
        payload = _check_json(payload)
        client_context = _client_context(request)
        version_header = {"X-Amz-Executed-Version": target.version.version}
        if kind == "DryRun":
            return web.Response(status=204, headers=version_header)
        if kind == "Event":
            if len(payload) > EVENT_MAX_BYTES:
                raise RequestTooLarge(
                    f"{len(payload)} byte payload is too large for the Event invocation type "
                    f"(limit {EVENT_MAX_BYTES} bytes)"
                )
            _, request_id = await service.invoke_event(name, payload, qualifier=qualifier)  # committed
            return web.Response(status=202, headers={**version_header, "x-amzn-RequestId": request_id})
        if request.headers.get("X-Amz-Log-Type") == "Tail":  # the tail holds REPORT: wait for the end
            _, result = await service.invoke(
                name, payload, qualifier=qualifier, client_context=client_context
            )
            return _answer(version_header, result, log_tail(result))
        return _answer(version_header, await _first_answer(service, name, payload, qualifier, client_context))

    return invoke


async def _first_answer(
    service: LambdaService, name: str, payload: bytes, qualifier: str | None, client_context: str | None
) -> Outcome | InvocationResult:
    """The runtime's answer as soon as it is posted, as Lambda answers the caller: the runtime's next `/next`,
    the extensions, END/REPORT and the freeze happen after it. A failure the runtime never answers (a crash,
    a timeout) comes with the finished invoke instead."""
    # One future, set by whichever comes first: the runtime's answer or the end of the invoke (a
    # failure it never answered). No asyncio.wait: it adds a waiter and callbacks on every invoke.
    answered: asyncio.Future[Outcome | InvocationResult] = asyncio.get_running_loop().create_future()

    def on_response(outcome: Outcome) -> None:
        if not answered.done():
            answered.set_result(outcome)

    def on_done(run: asyncio.Task[InvocationResult]) -> None:
        if run.cancelled():
            if not answered.done():
                answered.set_exception(cut_off())
            return
        error = run.exception()  # retrieved here, answered or not: never "never retrieved"
        if answered.done():
            return
        if error is not None:
            answered.set_exception(error)
        else:
            answered.set_result(run.result())

    _, run = service.start_invoke(
        name, payload, qualifier=qualifier, client_context=client_context, on_response=on_response
    )
    run.add_done_callback(on_done)  # the invoke finishes in the pool's task; its errors are the log's
    return await answered  # cancelled with the handler: the invoke goes on


def _answer(
    version_header: dict[str, str], answer: Outcome | InvocationResult, tail: str | None = None
) -> web.Response:
    headers = {**version_header, "x-amzn-RequestId": answer.request_id}
    if answer.function_error:
        headers["X-Amz-Function-Error"] = answer.function_error
    if tail is not None:
        headers["X-Amz-Log-Result"] = tail
    return web.Response(status=200, body=answer.payload, content_type="application/json", headers=headers)
