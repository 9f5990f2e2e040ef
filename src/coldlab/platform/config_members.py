"""The control plane's request members (CreateFunction, UpdateFunctionConfiguration) read into a
FunctionConfig, a bad or missing one a 400 worded as Lambda words it."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.errors import InvalidParameterValue, UsageError


def required_member(body: Mapping[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if not isinstance(value, kind):
        raise InvalidParameterValue(
            f"1 validation error detected: Value null at '{key[0].lower()}{key[1:]}' "
            "failed to satisfy constraint: Member must not be null"
        )
    return value


def log_format_member(body: Mapping[str, Any], default: str) -> str:
    logging = body.get("LoggingConfig")
    if isinstance(logging, dict) and "LogFormat" in logging:
        value = str(logging["LogFormat"])
        if value not in ("Text", "JSON"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{value}' at 'loggingConfig.logFormat' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Text, JSON]"
            )
        return value.lower()
    return default


def config_with_members(config: FunctionConfig, body: Mapping[str, Any]) -> FunctionConfig:
    """The FunctionConfig with the request's members applied; a bad value is a 400 naming it."""
    changes: dict[str, object] = {}
    for key, attr in (("MemorySize", "memory_mb"), ("Timeout", "timeout_s"), ("Handler", "handler")):
        if key in body:
            changes[attr] = body[key]
    if isinstance(body.get("Environment"), dict):
        changes["environment"] = dict(body["Environment"].get("Variables") or {})
    if isinstance(body.get("EphemeralStorage"), dict):
        changes["ephemeral_storage_mb"] = body["EphemeralStorage"].get("Size")
    if isinstance(body.get("Architectures"), list) and body["Architectures"]:
        changes["architecture"] = body["Architectures"][0]
    try:
        if "environment" in changes:
            changes["environment"] = MappingProxyType(dict(changes["environment"]))  # type: ignore[call-overload]
        return config.with_changes(**changes)
    except UsageError as exc:
        raise InvalidParameterValue(str(exc)) from exc
