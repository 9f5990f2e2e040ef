"""Put/Get/Update/Delete/ListFunctionEventInvokeConfig(s): how Event invokes of a qualifier are retried and
where their records go (reference serve §2.2, §2.5; paths under 2019-09-25).

Put replaces the whole config, Update merges into an existing one (404 without). A destination is a file
path (file:///abs/path or /abs/path; see coldlab.platform.destinations): coldlab writes records to files, so
an SQS/SNS/Lambda/EventBridge ARN is refused with a 400 that says so. `LastModified` is epoch seconds.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from coldlab.errors import InvalidParameterValue, ResourceNotFound
from coldlab.gateway.wire import json_body, json_response
from coldlab.platform.destinations import parse_destination
from coldlab.platform.service import LambdaService

PATH = "/2019-09-25/functions/{name}/event-invoke-config"
_RANGES = {"MaximumRetryAttempts": (0, 2), "MaximumEventAgeInSeconds": (60, 21600)}
_KINDS = ("OnSuccess", "OnFailure")


def _member(body: dict[str, Any], key: str) -> int | None:
    if key not in body or body[key] is None:
        return None
    value = body[key]
    low, high = _RANGES[key]
    shown = f"{key[0].lower()}{key[1:]}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{shown}' failed to satisfy constraint: "
            "Member must be an integer"
        )
    if not low <= value <= high:
        bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{shown}' failed to satisfy constraint: "
            f"Member must have value {bound}"
        )
    return value


def _destinations(value: object) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterValue("DestinationConfig must be an object with OnSuccess and/or OnFailure")
    found: dict[str, dict[str, str]] = {}
    for kind in _KINDS:
        entry = value.get(kind)
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise InvalidParameterValue(f"DestinationConfig.{kind} must be an object with Destination")
        destination = entry.get("Destination")
        if destination:  # "" or absent: no destination of this kind
            parse_destination(destination, f"DestinationConfig.{kind}.Destination")
            found[kind] = {"Destination": str(destination)}
    return found


class EventInvokeConfigs:
    def __init__(self, service: LambdaService) -> None:
        self.service = service

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put(PATH, self.put)
        app.router.add_post(PATH, self.update)
        app.router.add_get(PATH, self.get)
        app.router.add_delete(PATH, self.delete)
        app.router.add_get(PATH + "/list", self.list)

    def _key(self, request: web.Request) -> tuple[str, str]:
        """(function, qualifier) the request is about: `$LATEST` when unqualified; 404 when neither exists."""
        target = self.service.registry.resolve(request.match_info["name"], request.query.get("Qualifier"))
        return target.name, target.qualifier

    def _missing(self, name: str, qualifier: str) -> ResourceNotFound:
        arn = self.service.registry.get(name).arn(qualifier)
        return ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")

    def _document(self, name: str, qualifier: str, members: dict[str, Any]) -> dict[str, Any]:
        destinations = members.get("DestinationConfig", {})
        document: dict[str, Any] = {
            "LastModified": round(time.time(), 3),
            "FunctionArn": self.service.registry.get(name).arn(qualifier),
        }
        for key in _RANGES:
            if members.get(key) is not None:
                document[key] = members[key]
        document["DestinationConfig"] = {kind: destinations.get(kind, {}) for kind in _KINDS}
        return document

    async def put(self, request: web.Request) -> web.Response:
        name, qualifier = self._key(request)
        body = await json_body(request)
        members: dict[str, Any] = {key: _member(body, key) for key in _RANGES}
        members["DestinationConfig"] = _destinations(body.get("DestinationConfig"))
        document = self._document(name, qualifier, members)
        await self.service.delivery.put_config(name, qualifier, document)
        return json_response(document)

    async def update(self, request: web.Request) -> web.Response:
        name, qualifier = self._key(request)
        existing = self.service.delivery.configs.get((name, qualifier))
        if existing is None:
            raise self._missing(name, qualifier)
        body = await json_body(request)
        members: dict[str, Any] = {key: existing.get(key) for key in _RANGES}
        for key in _RANGES:
            given = _member(body, key)
            if given is not None:
                members[key] = given
        merged = {k: v for k, v in (existing.get("DestinationConfig") or {}).items() if v}
        if "DestinationConfig" in body:
            given_destinations = body["DestinationConfig"]
            merged.update(_destinations(given_destinations))
            if isinstance(given_destinations, dict):  # a kind given without a Destination removes it
                for kind in _KINDS:
                    entry = given_destinations.get(kind)
                    if isinstance(entry, dict) and not entry.get("Destination"):
                        merged.pop(kind, None)
        members["DestinationConfig"] = merged
        document = self._document(name, qualifier, members)
        await self.service.delivery.put_config(name, qualifier, document)
        return json_response(document)

    async def get(self, request: web.Request) -> web.Response:
        name, qualifier = self._key(request)
        document = self.service.delivery.configs.get((name, qualifier))
        if document is None:
            raise self._missing(name, qualifier)
        return json_response(document)

    async def delete(self, request: web.Request) -> web.Response:
        name, qualifier = self._key(request)
        if (name, qualifier) not in self.service.delivery.configs:
            raise self._missing(name, qualifier)
        await self.service.delivery.put_config(name, qualifier, None)
        return web.Response(status=204)

    async def list(self, request: web.Request) -> web.Response:
        function = self.service.registry.unqualified(request.match_info["name"])
        configs = [
            document
            for (name, _qualifier), document in sorted(self.service.delivery.configs.items())
            if name == function.name
        ]
        return json_response({"FunctionEventInvokeConfigs": configs})
