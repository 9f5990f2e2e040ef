"""The registry's records as the Lambda API's JSON members (reference serve §2.2, LS snapshots)."""

from __future__ import annotations

from typing import Any

from coldlab.platform.registry import LATEST, Alias, Function, Provisioned, Version

_RUNTIME_VERSION = "arn:aws:lambda:{region}::runtime:coldlab-{runtime}"


def configuration(function: Function, version: Version) -> dict[str, Any]:
    """FunctionConfiguration. `$LATEST` carries the function's State and LastUpdateStatus; versions are
    always Active/Successful (they never change)."""
    config = version.config
    arn = function.arn(None if version.version == LATEST else version.version)
    document: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": arn,
        "Runtime": version.runtime,
        "Role": version.role,
        "Handler": config.handler,
        "CodeSize": version.code.size,
        "Description": version.description,
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "LastModified": version.last_modified,
        "CodeSha256": version.code.sha256,
        "Version": version.version,
        "Environment": {"Variables": dict(config.environment)},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": version.revision_id,
        "PackageType": "Zip",
        "Architectures": [config.architecture],
        "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {
            "LogFormat": "JSON" if version.log_format == "json" else "Text",
            "LogGroup": f"/aws/lambda/{function.name}",
        },
        "RuntimeVersionConfig": {
            "RuntimeVersionArn": _RUNTIME_VERSION.format(region=config.region, runtime=version.runtime)
        },
    }
    if version.layer_refs:
        document["Layers"] = [{"Arn": layer, "CodeSize": size} for layer, size in version.layer_refs]
    if version.version != LATEST:
        document.update(State="Active", LastUpdateStatus="Successful")
        return document
    document["State"] = function.state
    if function.state == "Pending":  # a create: AWS sends no LastUpdateStatus yet (obs.)
        document.update(StateReason="The function is being created.", StateReasonCode="Creating")
        return document
    document["LastUpdateStatus"] = function.last_update
    if function.last_update == "InProgress":  # AWS's wording, even for an update (obs.)
        document.update(
            LastUpdateStatusReason="The function is being created.", LastUpdateStatusReasonCode="Creating"
        )
    elif function.last_update == "Failed":
        document.update(
            LastUpdateStatusReason=function.last_update_reason or "",
            LastUpdateStatusReasonCode="InternalError",
        )
    return document


def get_function(function: Function, version: Version) -> dict[str, Any]:
    document: dict[str, Any] = {
        "Configuration": configuration(function, version),
        "Code": {"RepositoryType": "S3", "Location": version.code.root.as_uri()},
        "Tags": {},
    }
    if function.reserved is not None:
        document["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved}
    return document


def alias(function: Function, value: Alias) -> dict[str, Any]:
    return {
        "AliasArn": function.arn(value.name),
        "Name": value.name,
        "FunctionVersion": value.function_version,
        "Description": value.description,
        "RevisionId": value.revision_id,
    }


def provisioned(value: Provisioned, function: Function | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": value.requested,
        "AllocatedProvisionedConcurrentExecutions": value.allocated,
        "AvailableProvisionedConcurrentExecutions": value.available,
        "Status": value.status,
        "LastModified": value.last_modified,
    }
    if value.status_reason:
        document["StatusReason"] = value.status_reason
    if function is not None:  # the list form names the qualified ARN
        document["FunctionArn"] = function.arn(value.qualifier)
    return document
