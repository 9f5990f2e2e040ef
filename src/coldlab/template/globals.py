"""`Globals.Function`, merged into each AWS::Serverless::Function exactly as the SAM translator merges it.

Reference §1.2 (samtranslator/plugins/globals/globals.py): maps merge recursively with the resource winning
on a duplicate key; lists concatenate, globals first, duplicates kept; scalars and type mismatches take
the resource's value; an intrinsic counts as a scalar. Every function property is a global except Role,
Policies, FunctionName and Events. `IgnoreGlobals: "*"` or a list opts a resource out. Plain
AWS::Lambda::Function resources never receive globals.
"""

from __future__ import annotations

from typing import Any

from coldlab.template.intrinsics import is_intrinsic
from coldlab.template.nodes import LocList, LocMap, Where

SERVERLESS_FUNCTION_PROPERTIES = frozenset(
    {
        "Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
        "AutoPublishCodeSha256", "CapacityProviderConfig", "CodeSigningConfigArn", "CodeUri",
        "DeadLetterQueue", "DeploymentPreference", "Description", "DurableConfig", "Environment",
        "EphemeralStorage", "EventInvokeConfig", "Events", "FileSystemConfigs", "FunctionName",
        "FunctionScalingConfig", "FunctionUrlConfig", "Handler", "ImageConfig", "ImageUri", "InlineCode",
        "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType", "PermissionsBoundary",
        "Policies", "PropagateTags", "ProvisionedConcurrencyConfig", "PublishToLatestPublished",
        "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath", "Runtime",
        "RuntimeManagementConfig", "SnapStart", "SourceKMSKeyArn", "Tags", "TenancyConfig", "Timeout",
        "Tracing", "VersionDeletionPolicy", "VersionDescription", "VpcConfig",
    }
)  # fmt: skip
NOT_GLOBALS = frozenset({"Role", "Policies", "FunctionName", "Events"})
GLOBALS_SECTIONS = frozenset(
    {"Function", "Api", "HttpApi", "SimpleTable", "StateMachine", "LayerVersion", "CapacityProvider",
     "WebSocketApi"}
)  # fmt: skip


def function_globals(template: LocMap, where: Where, warnings: list[str]) -> LocMap:
    """The checked `Globals.Function` map (empty when absent); unknown keys are warned about."""
    section = template.get("Globals")
    if section is None:
        return LocMap()
    here = where.at(template, "Globals")
    if not isinstance(section, LocMap):
        raise here.error("Globals must be a mapping", "write Globals: with sections such as Function:")
    for name in section:
        if name not in GLOBALS_SECTIONS:
            raise here.at(section, name).error(
                f"{name!r} is not a Globals section", f"use one of {', '.join(sorted(GLOBALS_SECTIONS))}"
            )
    properties = section.get("Function", LocMap())
    fn_where = here.at(section, "Function")
    if not isinstance(properties, LocMap):
        raise fn_where.error("Globals.Function must be a mapping", "list function properties under it")
    for key in properties:
        if key in NOT_GLOBALS:
            raise fn_where.at(properties, key).error(
                f"{key} cannot be a global", f"set {key} on each function instead (SAM refuses it in Globals)"
            )
        if key not in SERVERLESS_FUNCTION_PROPERTIES:
            warnings.append(
                fn_where.at(properties, key).warning(
                    f"{key!r} is not a property of AWS::Serverless::Function (ignored; check the spelling)"
                )
            )
    return properties


def apply_globals(globals_map: LocMap, properties: LocMap, ignore: Any, where: Where) -> LocMap:
    """`properties` with `globals_map` merged in, minus what `IgnoreGlobals` (at `where`) opts out of."""
    if ignore is None:
        chosen = globals_map
    elif ignore == "*":
        return properties
    elif isinstance(ignore, list) and all(isinstance(name, str) for name in ignore):
        for name in ignore:
            if name not in globals_map:
                raise where.error(
                    f"IgnoreGlobals names {name!r}, which Globals.Function does not set",
                    "remove it from the list",
                )
        chosen = LocMap({k: v for k, v in globals_map.items() if k not in ignore}, line=globals_map.line)
        chosen.key_lines = {k: v for k, v in globals_map.key_lines.items() if k not in ignore}
    else:
        raise where.error("IgnoreGlobals must be '*' or a list of property names", "fix IgnoreGlobals")
    merged = merge(chosen, properties)
    assert isinstance(merged, LocMap)  # two maps merge into a map
    return merged


def merge(global_value: Any, local_value: Any) -> Any:
    """SAM's `_do_merge`: the local value wins except where both are maps (merged) or lists (appended)."""
    kind = _kind(local_value)
    if _kind(global_value) != kind or kind == "scalar":
        return local_value
    if kind == "list":
        combined = LocList([*global_value, *local_value], line=_line(local_value) or _line(global_value))
        combined.item_lines = [*_item_lines(global_value), *_item_lines(local_value)]
        return combined
    result = LocMap(dict(global_value), line=_line(local_value) or _line(global_value))
    result.key_lines = dict(getattr(global_value, "key_lines", {}))
    for key, value in local_value.items():
        result[key] = merge(global_value[key], value) if key in global_value else value
        if isinstance(local_value, LocMap):
            result.key_lines[key] = local_value.line_of(key)
    return result


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "scalar" if is_intrinsic(value) else "map"
    return "list" if isinstance(value, list) else "scalar"


def _line(value: Any) -> int:
    return int(getattr(value, "line", 0))


def _item_lines(items: list[Any]) -> list[int]:
    if isinstance(items, LocList):
        return [items.line_at(index) for index in range(len(items))]
    return [0] * len(items)
