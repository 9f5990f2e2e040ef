"""One AWS::Serverless::Function or AWS::Lambda::Function resource → a FunctionSpec.

Each property coldlab reads is resolved (intrinsics) and checked where it is written, so a message names
the file, line and property. Properties SAM or CloudFormation know but coldlab does not use (Role,
Policies, Tracing, ...) are skipped silently; names neither knows are warned about (usually a typo).
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldlab.config import FunctionConfig
from coldlab.errors import UsageError
from coldlab.platform.spec import (
    ROUTE_APIS,
    URL_AUTH_TYPES,
    URL_INVOKE_MODES,
    FunctionSpec,
    FunctionUrlSpec,
    RouteSpec,
)
from coldlab.template.codeuri import CodeRequest, prepare_code
from coldlab.template.gobuild import GoSourceBuilder
from coldlab.template.intrinsics import Resolver
from coldlab.template.nodes import LocMap, Where

LAMBDA_FUNCTION_PROPERTIES = frozenset(
    {
        "Architectures", "CapacityProviderConfig", "Code", "CodeSigningConfigArn", "DeadLetterConfig",
        "Description", "DurableConfig", "Environment", "EphemeralStorage", "FileSystemConfigs",
        "FunctionName", "FunctionScalingConfig", "Handler", "ImageConfig", "KmsKeyArn", "Layers",
        "LoggingConfig", "MemorySize", "PackageType", "PublishToLatestPublished", "RecursiveLoop",
        "ReservedConcurrentExecutions", "Role", "Runtime", "RuntimeManagementConfig", "SnapStart", "Tags",
        "TenancyConfig", "Timeout", "TracingConfig", "VpcConfig",
    }
)  # fmt: skip
RUNTIMES = ("provided.al2023", "provided.al2")
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "ANY")
_ALIAS = re.compile(r"^(?![0-9]+$)[a-zA-Z0-9_-]+$")
_MAX_LAYERS = 5
_HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class ReadContext:
    """What every function of one template shares while it is read."""

    resolver: Resolver
    template_dir: Path
    layers: dict[str, Path]  # layer logical id -> its local content
    build: bool
    builder: GoSourceBuilder | None
    warnings: list[str]


class _Props:
    """A resource's properties, each resolved on first use, with the place of each for messages."""

    def __init__(self, properties: LocMap, where: Where, resolver: Resolver) -> None:
        self.map, self.where, self._resolver = properties, where, resolver

    def place(self, key: str) -> Where:
        return self.where.at(self.map, key)

    def get(self, key: str) -> Any:
        return self._resolver.resolve(self.map[key], self.place(key)) if key in self.map else None

    def integer(self, key: str, low: int = 0) -> int | None:
        return _integer(self.get(key), self.place(key), low)


def read_function(
    logical_id: str, resource: LocMap, *, properties: LocMap, where: Where, context: ReadContext
) -> FunctionSpec:
    """`properties` are already merged with Globals (for AWS::Serverless::Function)."""
    props = _Props(properties, where.at(resource, "Properties"), context.resolver)
    serverless = resource["Type"] == "AWS::Serverless::Function"
    _check_package(props, serverless)
    runtime = props.get("Runtime")
    _check_runtime(runtime, props.place("Runtime") if runtime is not None else props.where)
    architecture = _architecture(props, context.warnings)
    name = props.get("FunctionName")
    if name is not None and not isinstance(name, str):
        raise props.place("FunctionName").error(f"FunctionName must be a string, not {name!r}", "give a name")
    values: dict[str, object] = {
        "function_name": name or logical_id,
        "handler": _string(props, "Handler") or "bootstrap",
        "architecture": architecture,
        "environment": _environment(props),
    }
    for key, field in (("MemorySize", "memory_mb"), ("Timeout", "timeout_s")):
        number = props.integer(key)
        if number is not None:
            values[field] = number
    storage = props.get("EphemeralStorage")
    if storage is not None:
        if not isinstance(storage, dict) or "Size" not in storage:
            raise props.place("EphemeralStorage").error("EphemeralStorage needs Size", "write {Size: 512}")
        values["ephemeral_storage_mb"] = _integer(storage["Size"], props.place("EphemeralStorage"), 0)
    for field, value in values.items():
        _validate(field, value, props)
    metadata = resource.get("Metadata")
    build_method = metadata.get("BuildMethod") if isinstance(metadata, dict) else None
    code_key = "CodeUri" if serverless else "Code"
    request = CodeRequest(
        raw=props.get(code_key),
        where=props.place(code_key) if code_key in properties else where,
        property_name=code_key,
        build_method=str(build_method) if build_method is not None else None,
        architecture=architecture,
    )
    code = prepare_code(
        request, template_dir=context.template_dir, build=context.build, builder=context.builder,
        warnings=context.warnings,
    )  # fmt: skip
    try:
        config = FunctionConfig.create(code, **values)
    except UsageError as exc:  # what only the whole config can check (the 4 KB of environment variables)
        raise props.where.error(exc.message, exc.hint or "fix the function's properties") from exc
    alias = _alias(props) if serverless else None
    return FunctionSpec(
        name=config.function_name,
        logical_id=logical_id,
        config=config,
        reserved_concurrency=props.integer("ReservedConcurrentExecutions"),
        alias=alias,
        provisioned_concurrency=_provisioned(props, alias) if serverless else None,
        function_url=_function_url(props) if serverless else None,
        log_format=_log_format(props),
        routes=_routes(props, context.warnings) if serverless else (),
        layers=_layers(props, context),
        source=f"{where.file}:{where.line}",
    )


def _check_package(props: _Props, serverless: bool) -> None:
    if props.get("PackageType") not in (None, "Zip"):
        raise props.place("PackageType").error(
            f"PackageType {props.get('PackageType')} is not served (container images come later)",
            "use PackageType: Zip with Go source or a `bootstrap`",
        )
    if serverless and "InlineCode" in props.map:
        raise props.place("InlineCode").error("InlineCode cannot be a Go bootstrap", "use CodeUri instead")


def _check_runtime(runtime: Any, where: Where) -> None:
    if runtime in RUNTIMES:
        return
    if runtime is None:
        raise where.error("Runtime is missing", "set Runtime: provided.al2023 (here or in Globals.Function)")
    if runtime == "go1.x":
        raise where.error(
            "the runtime parameter of go1.x is no longer supported for creating or updating"
            " AWS Lambda functions",
            "use Runtime: provided.al2023 with Handler: bootstrap and Metadata.BuildMethod: go1.x",
        )
    raise where.error(
        f"Runtime {runtime} is not served: coldlab runs Go (or any) bootstraps on the OS-only runtimes",
        "use Runtime: provided.al2023 or provided.al2",
    )


def _architecture(props: _Props, warnings: list[str]) -> str:
    value = props.get("Architectures")
    if value is None:
        return "x86_64"
    where = props.place("Architectures")
    if not isinstance(value, list) or len(value) != 1 or value[0] not in ("x86_64", "arm64"):
        raise where.error(f"Architectures {value!r} is not [x86_64] or [arm64]", "use one of the two")
    host = _HOST_ARCH.get(platform.machine(), platform.machine())
    if value[0] != host:
        warnings.append(
            where.warning(f"{value[0]} binaries cannot start on this {host} machine (invokes will fail here)")
        )
    return str(value[0])


def _string(props: _Props, key: str) -> str | None:
    value = props.get(key)
    if value is not None and not isinstance(value, str):
        raise props.place(key).error(f"{key} must be a string, not {value!r}", "give a string")
    return value


def _environment(props: _Props) -> dict[str, str]:
    environment = props.get("Environment")
    if environment is None:
        return {}
    where = props.place("Environment")
    variables = environment.get("Variables", {}) if isinstance(environment, dict) else None
    if not isinstance(variables, dict):
        raise where.error(
            "Environment must be {Variables: {NAME: value}}", "list the variables under Variables"
        )
    result: dict[str, str] = {}
    for key, value in variables.items():
        place = where.child("Variables").at(variables, key) if isinstance(variables, LocMap) else where
        if isinstance(value, bool):
            result[key] = "true" if value else "false"  # SAM's stringification (reference §1.1)
        elif value is None:
            result[key] = ""
        elif isinstance(value, str | int | float):
            result[key] = str(value)
        else:
            raise place.error(f"environment variable {key} is a list or map, not a string", "give a string")
    return result


def _validate(field: str, value: object, props: _Props) -> None:
    """FunctionConfig's own range checks, one field at a time, so the message names the property."""
    key = {
        "function_name": "FunctionName", "handler": "Handler", "architecture": "Architectures",
        "environment": "Environment", "memory_mb": "MemorySize", "timeout_s": "Timeout",
        "ephemeral_storage_mb": "EphemeralStorage",
    }[field]  # fmt: skip
    try:
        FunctionConfig.create(Path(), **{field: value})
    except UsageError as exc:
        raise props.place(key).error(exc.message, exc.hint or "fix the value") from exc


def _alias(props: _Props) -> str | None:
    alias = props.get("AutoPublishAlias")
    if alias is not None and not (isinstance(alias, str) and _ALIAS.match(alias)):
        raise props.place("AutoPublishAlias").error(
            f"AutoPublishAlias {alias!r} is not a valid alias name",
            "use letters, digits, '-' or '_' (not all digits)",
        )
    return alias


def _provisioned(props: _Props, alias: str | None) -> int | None:
    config = props.get("ProvisionedConcurrencyConfig")
    if config is None:
        return None
    where = props.place("ProvisionedConcurrencyConfig")
    if not isinstance(config, dict) or "ProvisionedConcurrentExecutions" not in config:
        raise where.error(
            "ProvisionedConcurrencyConfig needs ProvisionedConcurrentExecutions", "write {N: 2}"
        )
    if alias is None:
        raise where.error(
            "ProvisionedConcurrencyConfig needs AutoPublishAlias (SAM sets it on the alias)",
            "add AutoPublishAlias: live (or another alias name)",
        )
    return _integer(config["ProvisionedConcurrentExecutions"], where, 1)


def _function_url(props: _Props) -> FunctionUrlSpec | None:
    config = props.get("FunctionUrlConfig")
    if config is None:
        return None
    where = props.place("FunctionUrlConfig")
    auth = config.get("AuthType") if isinstance(config, dict) else None
    mode = config.get("InvokeMode", "BUFFERED") if isinstance(config, dict) else None
    if auth not in URL_AUTH_TYPES:
        raise where.error(f"FunctionUrlConfig.AuthType {auth!r} is not NONE or AWS_IAM", "set AuthType: NONE")
    if mode not in URL_INVOKE_MODES:
        raise where.error(
            f"FunctionUrlConfig.InvokeMode {mode!r} is unknown", "use BUFFERED or RESPONSE_STREAM"
        )
    return FunctionUrlSpec(auth_type=auth, invoke_mode=mode)


def _log_format(props: _Props) -> str:
    config = props.get("LoggingConfig")
    if config is None:
        return "text"
    fmt = config.get("LogFormat", "Text") if isinstance(config, dict) else None
    if fmt not in ("Text", "JSON"):
        raise props.place("LoggingConfig").error(
            f"LoggingConfig.LogFormat {fmt!r} is unknown", "use Text or JSON"
        )
    return "json" if fmt == "JSON" else "text"


def _routes(props: _Props, warnings: list[str]) -> tuple[RouteSpec, ...]:
    events = props.get("Events")
    if events is None:
        return ()
    where = props.place("Events")
    if not isinstance(events, dict):
        raise where.error("Events must be a mapping of event names", "write Events: {Name: {Type: HttpApi}}")
    routes = []
    for name, event in events.items():
        place = where.at(events, name) if isinstance(events, LocMap) else where
        kind = event.get("Type") if isinstance(event, dict) else None
        if kind not in ROUTE_APIS:
            warnings.append(
                place.warning(f"event type {kind} is not served locally (only HttpApi and Api are)")
            )
            continue
        spec = event.get("Properties") or {}
        if kind == "HttpApi" and str(spec.get("PayloadFormatVersion", "2.0")) != "2.0":
            warnings.append(
                place.warning("PayloadFormatVersion 1.0 is not served; requests arrive as payload 2.0")
            )
        path, method = spec.get("Path"), spec.get("Method")
        if kind == "HttpApi" and path is None and method is None:
            routes.append(RouteSpec(api=kind, method="ANY", path="$default"))
            continue
        if not isinstance(path, str) or not path.startswith("/"):
            raise place.error(f"{kind} event Path {path!r} must start with '/'", "write Path: /items/{id}")
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            raise place.error(
                f"{kind} event Method {method!r} is unknown", f"use one of {', '.join(HTTP_METHODS)}"
            )
        routes.append(RouteSpec(api=kind, method=method.upper(), path=path))
    return tuple(routes)


def _layers(props: _Props, context: ReadContext) -> tuple[Path, ...]:
    layers = props.get("Layers")
    if layers is None:
        return ()
    where = props.place("Layers")
    if not isinstance(layers, list):
        raise where.error("Layers must be a list", "write Layers: [!Ref MyLayer]")
    if len(layers) > _MAX_LAYERS:
        raise where.error(f"{len(layers)} layers; Lambda allows {_MAX_LAYERS}", "merge or drop layers")
    paths = []
    for layer in layers:
        if layer in context.layers:
            paths.append(context.layers[layer])
        else:
            context.warnings.append(
                where.warning(f"layer {layer} is not a local layer of this template (ignored)")
            )
    return tuple(paths)


def _integer(value: Any, where: Where, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        raise where.error(f"{value!r} is not a whole number", "give a whole number")
    number = int(value)
    if number < low:
        raise where.error(f"{number} is below {low}", f"give a whole number from {low}")
    return number
