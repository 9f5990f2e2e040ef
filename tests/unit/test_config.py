from __future__ import annotations

import pytest

from coldlab.config import FunctionConfig, parse_env_pairs
from coldlab.errors import UsageError


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
