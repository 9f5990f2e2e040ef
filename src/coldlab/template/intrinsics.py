"""CloudFormation intrinsic functions, resolved the way `sam local` resolves them (reference §1.3).

`!Ref` of a parameter gives its value (override > Default), of a pseudo-parameter the local value, of a
resource its logical id; `!GetAtt Fn.Arn` gives the function's ARN. What needs a deployed stack (other
attributes, !ImportValue, SSM parameter values without an override) cannot be resolved here: the error
names the file, line and property and says what to write instead. Only properties coldlab reads are
resolved, so an unresolvable Role or Policies never stops a template.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from coldlab.template.nodes import LocList, LocMap, TemplateError, Where


class _NoValue:
    """AWS::NoValue: the property (or list item) that resolves to it disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_HINT = "give the property a literal value, or a Parameter with a Default or --parameter-overrides"


def is_intrinsic(value: object) -> bool:
    """One key, `Ref`, `Condition` or `Fn::*`: the shape SAM treats as a scalar when merging Globals."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def describe(value: object) -> str:
    """An intrinsic as a person wrote it: `!GetAtt Table.StreamArn`, `!ImportValue shared-vpc`."""
    if not is_intrinsic(value):
        return json.dumps(value, default=str)[:80]
    assert isinstance(value, dict)
    key, arg = next(iter(value.items()))
    tag = key.removeprefix("Fn::")
    if tag == "GetAtt" and isinstance(arg, list) and all(isinstance(part, str) for part in arg):
        return f"!GetAtt {'.'.join(arg)}"
    shown = arg if isinstance(arg, str) else json.dumps(arg, default=str)
    return f"!{tag} {shown}"[:120]


class Resolver:
    """Resolves intrinsics against one template's parameters, pseudo-parameters, resources and mappings."""

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        unresolvable: Mapping[str, str],
        pseudo: Mapping[str, Any],
        resources: Mapping[str, str],
        function_arns: Mapping[str, str],
        mappings: LocMap,
        conditions: LocMap,
        conditions_where: Where,
    ) -> None:
        self._parameters = parameters
        self._unresolvable = unresolvable  # parameter name -> why it has no value here
        self._pseudo = pseudo
        self._resources = resources  # logical id -> Type
        self._function_arns = function_arns
        self._mappings = mappings
        self._conditions = conditions
        self._conditions_where = conditions_where
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self._handlers: dict[str, Callable[[Any, Where], Any]] = {
            "Ref": self._ref,
            "Condition": lambda name, where: self.condition(self._text(name, where, "Condition"), where),
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda arg, where: base64.b64encode(self._string(arg, where).encode()).decode(),
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::And": lambda arg, where: all(self._booleans(arg, where, "Fn::And")),
            "Fn::Or": lambda arg, where: any(self._booleans(arg, where, "Fn::Or")),
            "Fn::Not": self._not,
            "Fn::GetAZs": self._get_azs,
            "Fn::Cidr": self._cidr,
            "Fn::Length": lambda arg, where: len(self._list(arg, where, "Fn::Length")),
            "Fn::ToJsonString": lambda arg, where: json.dumps(
                self.resolve(arg, where), separators=(",", ":")
            ),
        }

    def resolve(self, value: Any, where: Where) -> Any:
        """`value` with every intrinsic inside replaced by its value; AWS::NoValue entries removed."""
        if is_intrinsic(value):
            key, arg = next(iter(value.items()))
            handler = self._handlers.get(key)
            if handler is None:
                raise self._unresolved(value, where)
            return handler(arg, where)
        if isinstance(value, LocMap):
            result = LocMap(line=value.line)
            for key, item in value.items():
                resolved = self.resolve(item, where.at(value, key))
                if resolved is not NO_VALUE:
                    result[key] = resolved
                    result.key_lines[key] = value.line_of(key)
            return result
        if isinstance(value, LocList):
            items = LocList(line=value.line)
            for index, item in enumerate(value):
                resolved = self.resolve(item, where.at(value, index))
                if resolved is not NO_VALUE:
                    items.append(resolved)
                    items.item_lines.append(value.line_at(index))
            return items
        return value

    def condition(self, name: str, where: Where) -> bool:
        """The value of a named condition from the Conditions section (evaluated once)."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._conditions:
            raise where.error(f"condition {name!r} is not defined", "declare it under Conditions")
        if name in self._evaluating:
            raise where.error(f"condition {name!r} refers to itself", "break the cycle in Conditions")
        self._evaluating.add(name)
        try:
            value = self.resolve(self._conditions[name], self._conditions_where.at(self._conditions, name))
        finally:
            self._evaluating.discard(name)
        if not isinstance(value, bool):
            raise self._conditions_where.at(self._conditions, name).error(
                f"condition {name!r} is not true or false", "use !Equals, !And, !Or, !Not or !Condition"
            )
        self._condition_values[name] = value
        return value

    # -- the functions ---------------------------------------------------------------------------------

    def _ref(self, arg: Any, where: Where) -> Any:
        name = self._text(arg, where, "Ref")
        if name in self._unresolvable:
            raise where.error(
                f"!Ref {name}: {self._unresolvable[name]}", f"pass --parameter-overrides {name}=VALUE"
            )
        if name in self._parameters:
            return self._parameters[name]
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._resources:
            return name  # sam local's rule: a resource's Ref is its logical id
        raise where.error(
            f"!Ref {name} names no parameter or resource", "declare it under Parameters or Resources"
        )

    def _get_att(self, arg: Any, where: Where) -> Any:
        parts = self._list(arg, where, "Fn::GetAtt")
        if len(parts) != 2:
            raise where.error("!GetAtt takes [Resource, Attribute]", "write !GetAtt Resource.Attribute")
        logical, attribute = (self._string(part, where) for part in parts)
        if logical not in self._resources:
            raise where.error(
                f"!GetAtt {logical}.{attribute}: no resource {logical!r}", "check the logical id"
            )
        if attribute == "Arn" and logical in self._function_arns:
            return self._function_arns[logical]
        raise self._unresolved({"Fn::GetAtt": [logical, attribute]}, where)

    def _sub(self, arg: Any, where: Where) -> str:
        variables: Mapping[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                raise where.error("!Sub takes a string or [string, {Name: value}]", "fix the !Sub arguments")
            template = self._text(arg[0], where, "Fn::Sub")
            variables = {key: self.resolve(value, where) for key, value in arg[1].items()}
        else:
            template = self._text(arg, where, "Fn::Sub")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} writes ${Literal}
            name = name.strip()
            if name in variables:
                value = variables[name]
            elif "." in name:
                logical, _, attribute = name.partition(".")
                value = self._get_att([logical, attribute], where)
            else:
                value = self._ref(name, where)
            return self._string(value, where)

        return _SUB_VARIABLE.sub(replace, template)

    def _join(self, arg: Any, where: Where) -> str:
        args = self._list(arg, where, "Fn::Join")
        if len(args) != 2:
            raise where.error("!Join takes [delimiter, [values]]", "fix the !Join arguments")
        delimiter = self._string(args[0], where)
        return delimiter.join(self._string(item, where) for item in self._list(args[1], where, "Fn::Join"))

    def _select(self, arg: Any, where: Where) -> Any:
        args = self._list(arg, where, "Fn::Select")
        if len(args) != 2:
            raise where.error("!Select takes [index, [values]]", "fix the !Select arguments")
        index_text = self._string(args[0], where)
        items = self._list(args[1], where, "Fn::Select")
        if not index_text.isdigit() or int(index_text) >= len(items):
            raise where.error(
                f"!Select index {index_text} is outside a list of {len(items)}", "use an index from 0"
            )
        return items[int(index_text)]

    def _split(self, arg: Any, where: Where) -> list[str]:
        args = self._list(arg, where, "Fn::Split")
        if len(args) != 2:
            raise where.error("!Split takes [delimiter, string]", "fix the !Split arguments")
        delimiter, text = self._string(args[0], where), self._string(args[1], where)
        if not delimiter:
            raise where.error("!Split has an empty delimiter", "give a delimiter such as ','")
        return text.split(delimiter)

    def _find_in_map(self, arg: Any, where: Where) -> Any:
        args = self._list(arg, where, "Fn::FindInMap")
        if len(args) != 3:
            raise where.error("!FindInMap takes [MapName, TopKey, SecondKey]", "fix the !FindInMap arguments")
        keys = [self._string(item, where) for item in args]
        node: Any = self._mappings
        for depth, key in enumerate(keys):
            if not isinstance(node, dict) or key not in node:
                missing = "mapping" if depth == 0 else "key"
                raise where.error(
                    f"!FindInMap {keys}: no {missing} {key!r} in Mappings",
                    "add it to Mappings or fix the name",
                )
            node = node[key]
        return node

    def _if(self, arg: Any, where: Where) -> Any:
        args = self._list(arg, where, "Fn::If", resolve=False)  # only the chosen branch is resolved
        if len(args) != 3:
            raise where.error("!If takes [Condition, value-if-true, value-if-false]", "fix the !If arguments")
        chosen = args[1] if self.condition(self._text(args[0], where, "Fn::If"), where) else args[2]
        return self.resolve(chosen, where)

    def _equals(self, arg: Any, where: Where) -> bool:
        args = self._list(arg, where, "Fn::Equals")
        if len(args) != 2:
            raise where.error("!Equals takes two values", "fix the !Equals arguments")
        left, right = (self._string(item, where) for item in args)
        return left == right

    def _not(self, arg: Any, where: Where) -> bool:
        values = self._booleans(arg, where, "Fn::Not")
        if len(values) != 1:
            raise where.error("!Not takes one condition", "write !Not [condition]")
        return not values[0]

    def _get_azs(self, arg: Any, where: Where) -> list[str]:
        region = self._string(arg, where) or str(self._pseudo["AWS::Region"])
        return [f"{region}{zone}" for zone in "abc"]

    def _cidr(self, arg: Any, where: Where) -> list[str]:
        args = self._list(arg, where, "Fn::Cidr")
        if len(args) != 3:
            raise where.error("!Cidr takes [ipBlock, count, cidrBits]", "fix the !Cidr arguments")
        block, count, bits = (self._string(item, where) for item in args)
        try:
            network = ipaddress.ip_network(block, strict=False)
            prefix = network.max_prefixlen - int(bits)
            subnets = network.subnets(new_prefix=prefix)
            return [str(next(subnets)) for _ in range(int(count))]
        except (ValueError, StopIteration) as exc:
            raise where.error(f"!Cidr {[block, count, bits]} is not a valid split: {exc}", "fix it") from exc

    # -- argument helpers ------------------------------------------------------------------------------

    def _booleans(self, arg: Any, where: Where, name: str) -> list[bool]:
        values = [self.resolve(item, where) for item in self._list(arg, where, name, resolve=False)]
        if not all(isinstance(value, bool) for value in values):
            raise where.error(f"{name} takes conditions", "use !Equals, !And, !Or, !Not or !Condition")
        return values

    def _list(self, arg: Any, where: Where, name: str, *, resolve: bool = True) -> list[Any]:
        value = self.resolve(arg, where) if resolve else arg
        if not isinstance(value, list):
            raise where.error(f"{name} needs a list here, not {describe(value)}", "give a list")
        return list(value)

    def _text(self, arg: Any, where: Where, name: str) -> str:
        if not isinstance(arg, str):
            raise where.error(f"{name} needs a name here, not {describe(arg)}", "give a plain name")
        return arg

    def _string(self, arg: Any, where: Where) -> str:
        value = self.resolve(arg, where)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise where.error(f"{describe(value)} is not a string here", "give a single value, not a list or map")

    def _unresolved(self, value: object, where: Where) -> TemplateError:
        return where.error(f"{describe(value)} cannot be resolved locally", _LITERAL_HINT)
