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
from collections.abc import Callable

from aiohttp import web

from coldlab.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from coldlab.gateway.wire import JSON_TYPE, Handler, error_reply, to_web
from coldlab.http11 import Reply
from coldlab.platform.registry import Target
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


def client_context(raw: str | None) -> str | None:
    """X-Amz-Client-Context: base64 of a JSON object, at most 3,583 bytes; the decoded JSON text."""
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


def check_json(payload: bytes) -> bytes:
    if not payload.strip():
        return b"{}"  # an invoke without a payload hands the function `{}`
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from exc
    return payload


def checked(
    service: LambdaService, name: str, qualifier: str | None, payload: bytes, raw_client_context: str | None
) -> tuple[Target, bytes, str | None]:
    """What every invoke checks before anything runs, in this order: the function and qualifier (404), the
    payload's JSON (400), the client context (400). The target, the payload and the decoded context."""
    target = service.registry.resolve(name, qualifier)
    return target, check_json(payload), client_context(raw_client_context)


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
        target, payload, context = checked(
            service, name, qualifier, payload, request.headers.get("X-Amz-Client-Context")
        )
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
            _, result = await service.invoke(name, payload, qualifier=qualifier, client_context=context)
            return to_web(answer_reply(target.version.version, result, log_tail(result)))
        answer = await _first_answer(service, name, payload, qualifier, context)
        return to_web(answer_reply(target.version.version, answer))

    return invoke


Answer = Outcome | InvocationResult | Exception  # the runtime's answer, the finished invoke, or a failure


def answer_first(
    service: LambdaService,
    name: str,
    payload: bytes,
    *,
    qualifier: str | None,
    client_context: str | None,
    deliver: Callable[[Answer], None],
) -> None:
    """Start a RequestResponse invoke; `deliver` is called once, with the runtime's answer inside its own
    `POST /response` (as Lambda answers the caller: the runtime's next `/next`, the extensions, END/REPORT
    and the freeze happen after it), or with the finished invoke or its error when the runtime never
    answered (a crash, a timeout). Errors before the start (unknown function, throttle) are raised."""
    delivered = False

    def once(answer: Answer) -> None:
        nonlocal delivered
        if not delivered:
            delivered = True
            deliver(answer)

    def on_done(run: asyncio.Task[InvocationResult]) -> None:
        if run.cancelled():
            once(cut_off())
            return
        error = run.exception()  # retrieved here, answered or not: never "never retrieved"
        if error is None:
            once(run.result())
        else:  # a BaseException that is not an Exception can only be the server stopping it
            once(error if isinstance(error, Exception) else cut_off())

    _, run = service.start_invoke(
        name, payload, qualifier=qualifier, client_context=client_context, on_response=once
    )
    run.add_done_callback(on_done)  # the invoke finishes in the pool's task; its errors are the log's


def invoke_now(
    service: LambdaService,
    name: str,
    *,
    qualifier: str | None,
    payload: bytes,
    raw_client_context: str | None,
    send: Callable[[Reply], None],
) -> None:
    """A RequestResponse invoke without a log tail, for a front door that writes its own replies (the
    gateway's fast path): `send` gets the reply once, written as the handler below writes it."""
    try:
        target, payload, context = checked(service, name, qualifier, payload, raw_client_context)

        def deliver(answer: Answer) -> None:
            if isinstance(answer, Exception):
                send(error_reply(answer, f"POST invoke {name}"))
            else:
                send(answer_reply(target.version.version, answer))

        answer_first(
            service, name, payload, qualifier=qualifier, client_context=context, deliver=deliver
        )
    except Exception as exc:  # noqa: BLE001 - answered in the API's shape, a bug logged (error_reply)
        send(error_reply(exc, f"POST invoke {name}"))


async def _first_answer(
    service: LambdaService, name: str, payload: bytes, qualifier: str | None, client_context: str | None
) -> Outcome | InvocationResult:
    answered: asyncio.Future[Outcome | InvocationResult] = asyncio.get_running_loop().create_future()

    def deliver(answer: Answer) -> None:
        if not answered.done():  # cancelled with the handler: the invoke goes on
            if isinstance(answer, Exception):
                answered.set_exception(answer)
            else:
                answered.set_result(answer)

    answer_first(
        service, name, payload, qualifier=qualifier, client_context=client_context, deliver=deliver
    )
    return await answered


def answer_reply(version: str, answer: Outcome | InvocationResult, tail: str | None = None) -> Reply:
    headers = {"X-Amz-Executed-Version": version, "x-amzn-RequestId": answer.request_id}
    if answer.function_error:
        headers["X-Amz-Function-Error"] = answer.function_error
    if tail is not None:
        headers["X-Amz-Log-Result"] = tail
    return Reply(200, answer.payload, JSON_TYPE, headers)
