"""AWS::Lambda::Url and AWS::Lambda::Alias resources, applied to the plain functions they point at.

CloudFormation templates without the SAM transform give a function its URL and its provisioned
concurrency through these two resources instead of FunctionUrlConfig / AutoPublishAlias. Only the
properties coldlab uses are read: Url's TargetFunctionArn, AuthType, InvokeMode; Alias's FunctionName,
Name, ProvisionedConcurrencyConfig (FunctionVersion needs a deployed stack and is not read).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from coldlab.platform.spec import URL_AUTH_TYPES, URL_INVOKE_MODES, FunctionSpec, FunctionUrlSpec
from coldlab.template.intrinsics import Resolver
from coldlab.template.nodes import LocMap, Where

_TARGET_HINT = "point it at a function of this template: !GetAtt Fn.Arn or !Ref Fn"


def apply_lambda_resources(
    specs: list[FunctionSpec],
    resources: LocMap,
    *,
    places: dict[str, Where],
    resolver: Resolver,
    function_arns: dict[str, str],
    warnings: list[str],
) -> list[FunctionSpec]:
    """`specs` with each Alias's name and provisioned concurrency, and each Url's config, applied."""
    by_logical = {spec.logical_id: spec for spec in specs}
    aliases: dict[str, str] = {}  # alias logical id -> function logical id, for Urls that target an alias
    for kind in ("AWS::Lambda::Alias", "AWS::Lambda::Url"):
        for logical, resource in resources.items():
            if resource["Type"] != kind:
                continue
            properties = resource.get("Properties")
            where = places[logical].at(resource, "Properties")
            if not isinstance(properties, LocMap):
                raise where.error(f"{kind} {logical} has no Properties", "add its Properties")
            key = "FunctionName" if kind == "AWS::Lambda::Alias" else "TargetFunctionArn"
            place = where.at(properties, key)
            target = _target(resolver.resolve(properties.get(key), place), by_logical, function_arns, aliases)
            if target is None:
                raise place.error(f"{key} of {logical} names no function of this template", _TARGET_HINT)
            if kind == "AWS::Lambda::Alias":
                aliases[logical] = target
                by_logical[target] = _with_alias(by_logical[target], properties, where, resolver, warnings)
            else:
                by_logical[target] = _with_url(by_logical[target], properties, where, resolver, warnings)
    return [by_logical[spec.logical_id] for spec in specs]


def _target(
    value: Any, by_logical: dict[str, FunctionSpec], arns: dict[str, str], aliases: dict[str, str]
) -> str | None:
    if not isinstance(value, str):
        return None
    if value in by_logical:
        return value
    if value in aliases:
        return aliases[value]
    for logical, arn in arns.items():
        # An ARN, an alias ARN (arn...:function:name:alias) or the bare function name.
        if logical in by_logical and (
            value in (arn, by_logical[logical].name) or value.startswith(f"{arn}:")
        ):
            return logical
    return None


def _with_alias(
    spec: FunctionSpec, properties: LocMap, where: Where, resolver: Resolver, warnings: list[str]
) -> FunctionSpec:
    name = resolver.resolve(properties.get("Name"), where.at(properties, "Name"))
    if not isinstance(name, str) or not name:
        raise where.at(properties, "Name").error("an AWS::Lambda::Alias needs a Name", "add Name: live")
    if spec.alias is not None and spec.alias != name:
        warnings.append(
            where.warning(f"{spec.name} already has alias {spec.alias}; alias {name} is not served")
        )
        return spec
    provisioned = None
    config = resolver.resolve(
        properties.get("ProvisionedConcurrencyConfig"), where.at(properties, "ProvisionedConcurrencyConfig")
    )
    if config is not None:
        place = where.at(properties, "ProvisionedConcurrencyConfig")
        count = config.get("ProvisionedConcurrentExecutions") if isinstance(config, dict) else None
        if isinstance(count, str) and count.isdigit():
            count = int(count)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise place.error(
                f"ProvisionedConcurrentExecutions {count!r} is not a whole number from 1",
                "give a number from 1",
            )
        provisioned = count
    return dataclasses.replace(spec, alias=name, provisioned_concurrency=provisioned)


def _with_url(
    spec: FunctionSpec, properties: LocMap, where: Where, resolver: Resolver, warnings: list[str]
) -> FunctionSpec:
    auth = resolver.resolve(properties.get("AuthType"), where.at(properties, "AuthType"))
    mode = resolver.resolve(properties.get("InvokeMode", "BUFFERED"), where.at(properties, "InvokeMode"))
    if auth not in URL_AUTH_TYPES:
        raise where.at(properties, "AuthType").error(
            f"AuthType {auth!r} is not NONE or AWS_IAM", "set AuthType"
        )
    if mode not in URL_INVOKE_MODES:
        raise where.at(properties, "InvokeMode").error(f"InvokeMode {mode!r} is unknown", "use BUFFERED")
    if spec.function_url is not None:
        warnings.append(where.warning(f"{spec.name} already has a function URL; this one is not served"))
        return spec
    return dataclasses.replace(spec, function_url=FunctionUrlSpec(auth_type=auth, invoke_mode=mode))
