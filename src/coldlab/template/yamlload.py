"""Read a template (YAML or JSON) into LocMap/LocList values, with CloudFormation's short-form tags.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, `!Sub ...` becomes
`{"Fn::Sub": ...}` and so on, so the long and short forms are one thing afterwards. Timestamps stay strings
(CloudFormation has no date type); duplicate keys are refused, as CloudFormation refuses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from coldlab.template.nodes import LocList, LocMap, TemplateError

_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "GetAtt", "If", "ImportValue",
            "Join", "Length", "Not", "Or", "Select", "Split", "Sub", "ToJsonString", "Transform",
        )
    },
}  # fmt: skip


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader whose maps and lists carry line numbers; set `file` before loading (for messages)."""

    file: Path = Path("template.yaml")

    def where(self, node: yaml.Node) -> str:
        return f"{self.file}:{_line(node)}"


def _construct_map(loader: _TemplateLoader, node: yaml.MappingNode) -> LocMap:
    loader.flatten_mapping(node)  # YAML merge keys (<<) as PyYAML's own maps handle them
    result = LocMap(line=_line(node))
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, LocMap | LocList):
            raise TemplateError(
                f"{loader.where(key_node)}: a mapping key must be a plain value", "write the key as a string"
            )
        name = key if isinstance(key, str) else str(key).lower() if isinstance(key, bool) else str(key)
        if name in result:
            raise TemplateError(
                f"{loader.where(key_node)}: duplicate key {name!r} (first at line {result.key_lines[name]})",
                "CloudFormation refuses duplicate keys: keep one",
            )
        result[name] = loader.construct_object(value_node, deep=True)
        result.key_lines[name] = _line(key_node)
    return result


def _construct_list(loader: _TemplateLoader, node: yaml.SequenceNode) -> LocList:
    result = LocList(line=_line(node))
    for item in node.value:
        result.append(loader.construct_object(item, deep=True))
        result.item_lines.append(_line(item))
    return result


def _construct_tag(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> LocMap:
    key = _SHORT_TAGS.get(suffix)
    if key is None:
        raise TemplateError(
            f"{loader.where(node)}: unknown tag !{suffix}",
            "use a CloudFormation intrinsic (!Ref, !Sub, !GetAtt, !If, !Join, ...) or its Fn:: long form",
        )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if key == "Fn::GetAtt":
            logical, dot, attribute = str(value).partition(".")
            if not dot:
                raise TemplateError(
                    f"{loader.where(node)}: !GetAtt {value} has no attribute",
                    "write !GetAtt Resource.Attribute",
                )
            value = LocList([logical, attribute], line=_line(node))
    elif isinstance(node, yaml.SequenceNode):
        value = _construct_list(loader, node)
    else:
        value = _construct_map(loader, node)  # type: ignore[arg-type]  # the remaining node kind
    result = LocMap({key: value}, line=_line(node))
    result.key_lines[key] = _line(node)
    return result


def _construct_str(loader: _TemplateLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_TemplateLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_TemplateLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
_TemplateLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)
_TemplateLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> LocMap:
    """Parse `path`; raise TemplateError naming the file and line of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(f"template {path} does not exist", "give the path of your template.yaml") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(
            f"template {path} cannot be read: {exc}", "give a UTF-8 YAML or JSON file"
        ) from exc
    loader = _TemplateLoader(text)
    loader.file = path
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise TemplateError(
            f"{path}{line}: YAML error: {problem}", "fix the YAML syntax at that line"
        ) from exc
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: YAML error: {exc}", "fix the YAML syntax") from exc
    finally:
        loader.dispose()
    if not isinstance(document, LocMap):
        raise TemplateError(
            f"{path}:1: the template is not a mapping", "a template starts with keys such as Resources:"
        )
    return document
