"""Template Parameters: `--parameter-overrides` > `Default`, checked against the parameter's constraints.

Values are strings (CloudFormation hands Number parameters to `!Ref` as strings too); list types
(CommaDelimitedList, List<...>) become lists with each member space-trimmed. A parameter without a value
here (no Default, no override; an SSM value type) is not an error until something coldlab reads refers
to it; then the error names the parameter and says to pass an override.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coldlab.config import DEFAULT_ACCOUNT, DEFAULT_REGION
from coldlab.errors import UsageError
from coldlab.template.intrinsics import NO_VALUE
from coldlab.template.nodes import LocMap, TemplateError, Where

STACK_NAME = "local"  # sam local's values (reference §1.3)
_OVERRIDE_FORM = re.compile(r"^ParameterKey=([^,]*),ParameterValue=(.*)$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z0-9]+$")


def pseudo_parameters(region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """The pseudo-parameters as `sam local` sets them; AWS::NoValue removes the property that uses it."""
    return {
        "AWS::AccountId": account_id,
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": STACK_NAME,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{STACK_NAME}/"
        "51af3dc0-da77-11e4-872e-1234567db123",
        "AWS::URLSuffix": "localhost",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def parse_parameter_overrides(items: Sequence[str]) -> dict[str, str]:
    """`["Stage=prod", "ParameterKey=Mem,ParameterValue=512"]` -> {"Stage": "prod", "Mem": "512"}."""
    result: dict[str, str] = {}
    for item in items:
        long_form = _OVERRIDE_FORM.match(item)
        key, sep, value = (long_form.group(1), "=", long_form.group(2)) if long_form else item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"--parameter-overrides {item!r} is not NAME=VALUE",
                "write it as Name=value or ParameterKey=Name,ParameterValue=value",
            )
        result[key] = value
    return result


@dataclass(frozen=True)
class ParameterValues:
    values: Mapping[str, Any]  # name -> str or list[str]
    unresolvable: Mapping[str, str]  # name -> why it has no value locally


def read_parameters(
    template: LocMap, overrides: Mapping[str, str], where: Where, warnings: list[str]
) -> ParameterValues:
    """Resolve every declared parameter; an override of an undeclared name is warned about."""
    section = template.get("Parameters", LocMap())
    here = where.at(template, "Parameters")
    if not isinstance(section, LocMap):
        raise here.error("Parameters must be a mapping", "declare each parameter as Name: {Type: String}")
    values: dict[str, Any] = {}
    unresolvable: dict[str, str] = {}
    for name, declaration in section.items():
        place = here.at(section, name)
        if not _NAME.match(name):
            raise place.error(f"parameter name {name!r} is not alphanumeric", "use letters and digits only")
        if not isinstance(declaration, LocMap) or not isinstance(declaration.get("Type"), str):
            raise place.error(f"parameter {name} has no Type", "add Type: String (or Number, ...)")
        kind = str(declaration["Type"])
        if name in overrides:
            raw: Any = overrides[name]
            source = f"--parameter-overrides {name}"
        elif "Default" in declaration:
            raw = declaration["Default"]
            source = f"{place.file}:{declaration.line_of('Default')}: Parameters.{name}.Default"
        elif kind.startswith("AWS::SSM::Parameter::Value<"):
            unresolvable[name] = "its value is read from SSM Parameter Store at deploy time"
            continue
        else:
            unresolvable[name] = f"parameter {name} has no Default and no override"
            continue
        values[name] = _checked(name, _text(raw), declaration, source)
    for name in overrides:
        if name not in section:
            warnings.append(
                f"--parameter-overrides {name}: the template declares no parameter {name!r} (ignored)"
            )
    return ParameterValues(values, unresolvable)


def _text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return ",".join(_text(item) for item in raw)
    return "" if raw is None else str(raw)


def _checked(name: str, value: str, declaration: LocMap, source: str) -> Any:
    kind = str(declaration["Type"])
    is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
    members = [member.strip() for member in value.split(",")] if is_list else [value]
    for member in members:
        problem = _violation(kind, member, declaration)
        if problem:
            raise TemplateError(
                f"{source}: value {member!r} of parameter {name} {problem}", "give an allowed value"
            )
    return members if is_list else value


def _violation(kind: str, value: str, declaration: LocMap) -> str | None:
    allowed = declaration.get("AllowedValues")
    pattern = declaration.get("AllowedPattern")
    problems = [
        f"is not one of {[_text(item) for item in allowed]}"
        if isinstance(allowed, list) and value not in [_text(item) for item in allowed]
        else None,
        f"does not match AllowedPattern {pattern}"
        if isinstance(pattern, str) and not re.fullmatch(pattern, value)
        else None,
        _bound(declaration, "MinLength", len(value), below=True),
        _bound(declaration, "MaxLength", len(value), below=False),
    ]
    if kind in ("Number", "List<Number>"):
        try:
            number = float(value)
        except ValueError:
            return "is not a number"
        problems += [
            _bound(declaration, "MinValue", number, below=True),
            _bound(declaration, "MaxValue", number, below=False),
        ]
    return next((problem for problem in problems if problem), None)


def _bound(declaration: LocMap, key: str, measured: float, *, below: bool) -> str | None:
    """`breaks MinLength 3` when `measured` is on the wrong side of the declared bound."""
    if key not in declaration:
        return None
    try:
        bound = float(_text(declaration[key]))
    except ValueError:
        return f"cannot be checked: {key} {declaration[key]!r} is not a number"
    broken = measured < bound if below else measured > bound
    return f"breaks {key} {declaration[key]}" if broken else None
