"""load_template: a SAM (or plain CloudFormation) template → the functions `coldlab serve` hosts.

Order of work: parse (line numbers, short-form tags) → parameters → resource types checked → Globals →
each function resolved, checked and its code built. Every problem is one TemplateError naming the file,
line and property; warnings (unknown properties, events not served) are returned beside the functions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from coldlab.config import DEFAULT_ACCOUNT, DEFAULT_REGION
from coldlab.platform.spec import FunctionSpec
from coldlab.template.functions import LAMBDA_FUNCTION_PROPERTIES, ReadContext, read_function
from coldlab.template.globals import SERVERLESS_FUNCTION_PROPERTIES, apply_globals, function_globals
from coldlab.template.gobuild import GoSourceBuilder
from coldlab.template.intrinsics import FUNCTION_TYPES, Resolver
from coldlab.template.lambda_resources import apply_lambda_resources
from coldlab.template.nodes import LocMap, TemplateError, Where
from coldlab.template.parameters import pseudo_parameters, read_parameters
from coldlab.template.yamlload import load_yaml

SERVERLESS_TYPES = frozenset(
    f"AWS::Serverless::{name}"
    for name in ("Function", "Api", "HttpApi", "SimpleTable", "LayerVersion", "Application", "StateMachine",
                 "Connector", "GraphQLApi", "CapacityProvider", "WebSocketApi")
)  # fmt: skip
LAMBDA_TYPES = frozenset(
    f"AWS::Lambda::{name}"
    for name in ("Function", "Alias", "Version", "Url", "Permission", "LayerVersion",
                 "LayerVersionPermission", "EventSourceMapping", "EventInvokeConfig", "CodeSigningConfig",
                 "CapacityProvider")
)  # fmt: skip
_TYPE_SHAPE = re.compile(r"^(AWS|Alexa)::[A-Za-z0-9]+::[A-Za-z0-9]+$|^Custom::[A-Za-z0-9_@-]+$")
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class TemplateResult:
    functions: tuple[FunctionSpec, ...]
    warnings: tuple[str, ...]


def load_template(
    path: Path,
    parameters: Mapping[str, str] = _EMPTY,
    *,
    build: bool = True,
    builder: GoSourceBuilder | None = None,
    region: str = DEFAULT_REGION,
) -> TemplateResult:
    """Read `path`; with `build`, Go source CodeUris are built (cached) so each spec holds `bootstrap`."""
    template = load_yaml(path)
    root = Where(path, 1, "")
    warnings: list[str] = []
    values = read_parameters(template, parameters, root, warnings)
    resources = _resources(template, root)
    function_arns: dict[str, str] = {}
    mappings = template.get("Mappings", LocMap())
    conditions = template.get("Conditions", LocMap())
    for section, value in (("Mappings", mappings), ("Conditions", conditions)):
        if not isinstance(value, LocMap):
            raise root.at(template, section).error(
                f"{section} must be a mapping", f"fix the {section} section"
            )
    resolver = Resolver(
        parameters=values.values,
        unresolvable=values.unresolvable,
        pseudo=pseudo_parameters(region, DEFAULT_ACCOUNT),
        resources={logical: str(resource["Type"]) for logical, resource in resources.items()},
        function_arns=function_arns,
        mappings=mappings,
        conditions=conditions,
        conditions_where=root.at(template, "Conditions"),
    )
    globals_map = function_globals(template, root, warnings)
    places = {logical: root.child("Resources").at(resources, logical) for logical in resources}
    functions = {
        logical: resource
        for logical, resource in resources.items()
        if resource["Type"] in FUNCTION_TYPES and _enabled(resource, resolver, places[logical])
    }
    merged: dict[str, LocMap] = {}
    for logical, resource in functions.items():
        where = places[logical]
        properties = _function_properties(resource, where, globals_map, warnings)
        merged[logical] = properties
        name = properties.get("FunctionName")
        resolved = (
            resolver.resolve(name, where.child("Properties").at(properties, "FunctionName")) if name else None
        )
        shown = resolved if isinstance(resolved, str) else logical
        function_arns[logical] = f"arn:aws:lambda:{region}:{DEFAULT_ACCOUNT}:function:{shown}"
    context = ReadContext(
        resolver=resolver,
        template_dir=path.resolve().parent,
        layers=_layers(resources, places, resolver, path.resolve().parent),
        build=build,
        builder=builder,
        warnings=warnings,
    )
    specs = [
        read_function(logical, resource, properties=merged[logical], where=places[logical], context=context)
        for logical, resource in functions.items()
    ]
    if not specs:
        raise TemplateError(
            f"{path}: no AWS::Serverless::Function or AWS::Lambda::Function to serve",
            "add a function resource, or serve a code directory with: coldlab serve DIR",
        )
    specs = apply_lambda_resources(
        specs, resources, places=places, resolver=resolver, function_arns=function_arns, warnings=warnings
    )
    _check_unique(specs)
    return TemplateResult(tuple(specs), tuple(warnings))


def _function_properties(resource: LocMap, where: Where, globals_map: LocMap, warnings: list[str]) -> LocMap:
    """The resource's Properties with Globals merged in (Serverless only); unknown keys are warned about."""
    properties = resource.get("Properties", LocMap())
    if not isinstance(properties, LocMap):
        raise where.at(resource, "Properties").error("Properties must be a mapping", "indent the properties")
    serverless = resource["Type"] == "AWS::Serverless::Function"
    known = SERVERLESS_FUNCTION_PROPERTIES if serverless else LAMBDA_FUNCTION_PROPERTIES
    for key in properties:  # the resource's own keys: Globals' keys were checked once already
        if key not in known:
            warnings.append(
                where.child("Properties")
                .at(properties, key)
                .warning(f"{key!r} is not a property of {resource['Type']} (ignored; check the spelling)")
            )
    if not serverless:
        return properties
    return apply_globals(
        globals_map, properties, resource.get("IgnoreGlobals"), where.at(resource, "IgnoreGlobals")
    )


def _resources(template: LocMap, root: Where) -> LocMap:
    resources = template.get("Resources")
    if not isinstance(resources, LocMap) or not resources:
        raise root.at(template, "Resources").error(
            "the template has no Resources",
            "declare functions under Resources: (Type: AWS::Serverless::Function)",
        )
    for logical, resource in resources.items():
        where = root.child("Resources").at(resources, logical)
        if not isinstance(resource, LocMap) or not isinstance(resource.get("Type"), str):
            raise where.error(f"resource {logical} has no Type", "add Type: AWS::Serverless::Function")
        _check_type(str(resource["Type"]), where.at(resource, "Type"))
    return resources


def _check_type(kind: str, where: Where) -> None:
    family = SERVERLESS_TYPES if kind.startswith("AWS::Serverless::") else LAMBDA_TYPES
    if kind.startswith(("AWS::Serverless::", "AWS::Lambda::")) and kind not in family:
        close = difflib.get_close_matches(kind, sorted(family), n=1)
        hint = f"did you mean {close[0]}?" if close else f"use one of {', '.join(sorted(family))}"
        raise where.error(f"unknown resource type {kind}", hint)
    if not _TYPE_SHAPE.match(kind):
        raise where.error(f"unknown resource type {kind}", "types look like AWS::Service::Resource")


def _enabled(resource: LocMap, resolver: Resolver, where: Where) -> bool:
    """A resource with `Condition: Name` exists only when that condition is true."""
    name = resource.get("Condition")
    if name is None:
        return True
    if not isinstance(name, str):
        raise where.at(resource, "Condition").error("Condition must be a condition name", "fix it")
    return resolver.condition(name, where.at(resource, "Condition"))


def _layers(resources: LocMap, places: dict[str, Where], resolver: Resolver, base: Path) -> dict[str, Path]:
    """Layer logical id -> local content: AWS::Serverless::LayerVersion ContentUri, Lambda's Content."""
    layers: dict[str, Path] = {}
    for logical, resource in resources.items():
        key = {"AWS::Serverless::LayerVersion": "ContentUri", "AWS::Lambda::LayerVersion": "Content"}.get(
            str(resource["Type"])
        )
        properties = resource.get("Properties")
        if key is None or not isinstance(properties, LocMap):
            continue
        where = places[logical].child("Properties").at(properties, key)
        content = resolver.resolve(properties.get(key), where)
        if not isinstance(content, str) or content.startswith("s3://"):
            continue  # not local: a function that uses it is warned that the layer is ignored
        local = (base / content).resolve()
        if not local.exists():
            raise where.error(f"{key} {content} does not exist (looked for {local})", "fix the path")
        layers[logical] = local
    return layers


def _check_unique(specs: list[FunctionSpec]) -> None:
    seen: dict[str, FunctionSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise TemplateError(
                f"{spec.source}: function name {spec.name} is also used by {seen[spec.name].logical_id}"
                f" ({seen[spec.name].source})",
                "give each function its own FunctionName",
            )
        seen[spec.name] = spec
