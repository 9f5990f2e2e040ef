from __future__ import annotations

import pytest

from coldlab.config import RESERVED_ENV_KEYS, FunctionConfig, parse_env_pairs
from coldlab.errors import InvalidParameterValue, UsageError


def test_defaults_are_lambdas() -> None:
    config = FunctionConfig.create("/code")
    assert (config.memory_mb, config.timeout_s, config.ephemeral_storage_mb) == (128, 3, 512)
    assert config.function_arn == "arn:aws:lambda:us-east-1:123456789012:function:coldlab-function"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("memory_mb", 127, "memory size 127 MB is out of range"),
        ("memory_mb", 10241, "from 128 to 10240 MB"),
        ("timeout_s", 0, "timeout 0 s is out of range"),
        ("timeout_s", 901, "from 1 to 900 s"),
        ("ephemeral_storage_mb", 10241, "ephemeral storage"),
        ("architecture", "sparc", "use x86_64 or arm64"),
    ],
)
def test_out_of_range_values_name_the_range(field: str, value: object, fragment: str) -> None:
    with pytest.raises(UsageError) as info:
        FunctionConfig.create("/code", **{field: value})
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


def test_env_pairs() -> None:
    assert parse_env_pairs(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(UsageError, match="is not KEY=VALUE"):
        parse_env_pairs(["novalue"])


def test_env_size_limit() -> None:
    with pytest.raises(UsageError, match="Lambda allows 4096"):
        FunctionConfig.create("/code", environment={"BIG": "x" * 5000})


@pytest.mark.parametrize("key", sorted(RESERVED_ENV_KEYS))
def test_reserved_keys_are_refused_in_lambdas_words(key: str) -> None:
    with pytest.raises(InvalidParameterValue) as info:
        FunctionConfig.create("/code", environment={"MINE": "1", key: "x"})
    assert info.value.message == (
        "Lambda was unable to configure your environment variables because the environment variables you "
        "have provided contains reserved keys that are currently not supported for modification. "
        f"Reserved keys used in this request: {key}"
    )
    assert info.value.exit_code == 2
    assert info.value.code == "InvalidParameterValueException"
    assert info.value.body()["message"] == info.value.message  # what `serve` sends carries no CLI hint


def test_every_reserved_key_is_named_once_sorted() -> None:
    with pytest.raises(
        InvalidParameterValue, match=r"request: AWS_DEFAULT_REGION, LAMBDA_TASK_ROOT \(rename"
    ):
        FunctionConfig.create("/code", environment={"LAMBDA_TASK_ROOT": "/x", "AWS_DEFAULT_REGION": "y"})


@pytest.mark.parametrize(
    "key", ["TZ", "LANG", "PATH", "LD_LIBRARY_PATH", "AWS_LAMBDA_EXEC_WRAPPER", "GOMAXPROCS"]
)
def test_unreserved_keys_may_be_set(key: str) -> None:
    assert FunctionConfig.create("/code", environment={key: "x"}).environment[key] == "x"


def test_with_changes_validates_the_environment_too() -> None:
    with pytest.raises(InvalidParameterValue):
        FunctionConfig.create("/code").with_changes(environment={"_HANDLER": "main"})
