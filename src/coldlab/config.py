"""FunctionConfig: what a function is configured with, validated once, in one place.

Precedence (highest first): CLI flags, then a SAM template (later), then Lambda's defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from coldlab.errors import InvalidParameterValue, UsageError

MEMORY_MIN_MB = 128
MEMORY_MAX_MB = 10240
TIMEOUT_MIN_S = 1
TIMEOUT_MAX_S = 900
EPHEMERAL_MIN_MB = 512
EPHEMERAL_MAX_MB = 10240
ENV_VARS_MAX_BYTES = 4096
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
ARCHITECTURES = ("x86_64", "arm64")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ENV_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Names Lambda sets itself and refuses in a function's configuration (reference lambda-contract §6: the
# reserved rows, the credentials and the runtime's own variables). TZ, LANG, PATH and LD_LIBRARY_PATH
# may be set.
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True)
class FunctionConfig:
    """A function's configuration, as Lambda would hold it. Construct with `FunctionConfig.create`."""

    code: Path
    function_name: str = "coldlab-function"
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: int = DEFAULT_TIMEOUT_S
    ephemeral_storage_mb: int = EPHEMERAL_MIN_MB
    architecture: str = "x86_64"
    handler: str = "bootstrap"
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT
    version: str = "$LATEST"
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def create(cls, code: Path | str, **values: object) -> FunctionConfig:
        """Build and validate a config; raises UsageError naming the bad value and its allowed range."""
        env = values.pop("environment", None) or {}
        if not isinstance(env, Mapping):
            raise UsageError("environment must be a mapping of names to values")
        config = cls(code=Path(code), environment=MappingProxyType(dict(env)), **values)  # type: ignore[arg-type]
        config.validate()
        return config

    def with_changes(self, **values: object) -> FunctionConfig:
        changed = replace(self, **values)  # type: ignore[arg-type]
        changed.validate()
        return changed

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def validate(self) -> None:
        _check_range("memory size", self.memory_mb, MEMORY_MIN_MB, MEMORY_MAX_MB, "MB")
        _check_range("timeout", self.timeout_s, TIMEOUT_MIN_S, TIMEOUT_MAX_S, "s")
        _check_range("ephemeral storage", self.ephemeral_storage_mb, EPHEMERAL_MIN_MB, EPHEMERAL_MAX_MB, "MB")
        if self.architecture not in ARCHITECTURES:
            raise UsageError(f"architecture {self.architecture!r} is not supported", "use x86_64 or arm64")
        if not _FUNCTION_NAME.match(self.function_name):
            raise UsageError(
                f"function name {self.function_name!r} is invalid",
                "use 1-64 letters, digits, '-' or '_'",
            )
        reserved = sorted(RESERVED_ENV_KEYS.intersection(self.environment))
        if reserved:  # Lambda's own words (InvalidParameterValueException), for `serve` to send as they are
            raise InvalidParameterValue(
                "Lambda was unable to configure your environment variables because the environment "
                "variables you have provided contains reserved keys that are currently not supported for "
                f"modification. Reserved keys used in this request: {', '.join(reserved)}",
                hint="rename them: Lambda sets these itself",
            )
        for key in self.environment:
            if not _ENV_KEY.match(key):
                raise UsageError(
                    f"environment variable name {key!r} is invalid",
                    "names start with a letter and contain only letters, digits and '_'",
                )
        size = sum(len(k) + len(v) for k, v in self.environment.items())
        if size > ENV_VARS_MAX_BYTES:
            raise UsageError(
                f"environment variables take {size} bytes; Lambda allows {ENV_VARS_MAX_BYTES}",
                "remove or shorten some variables",
            )


def _check_range(what: str, value: int, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(
            f"{what} {value!r} {unit} is out of range",
            f"use a whole number from {low} to {high} {unit}",
        )


def parse_env_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Turn ['K=V', ...] into a dict; raise UsageError on an item without '='."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {pair!r} is not KEY=VALUE", "write it as --env NAME=value")
        result[key] = value
    return result
