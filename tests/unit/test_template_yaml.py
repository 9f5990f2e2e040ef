"""The template reader: CloudFormation short and long forms, line numbers, YAML errors named by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldlab.errors import UsageError
from coldlab.template import TemplateError
from coldlab.template.nodes import LocList, LocMap
from coldlab.template.yamlload import load_yaml


def write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_short_tags_become_the_long_forms(tmp_path: Path) -> None:
    short = load_yaml(
        write(
            tmp_path,
            "A: !Ref Stage\n"
            "B: !GetAtt Fn.Arn\n"
            "C: !Sub 'x-${Stage}'\n"
            "D: !Join [',', [a, b]]\n"
            "E: !Select [0, !Split [',', 'a,b']]\n"
            "F: !FindInMap [M, k, v]\n"
            "G: !If [C, !Equals [a, b], !Not [!Condition C]]\n"
            "H: !Base64 hi\n"
            "I: !GetAtt [Fn, Endpoint.Address]\n",
        )
    )
    long = load_yaml(
        write(
            tmp_path,
            "A: {Ref: Stage}\n"
            "B: {'Fn::GetAtt': [Fn, Arn]}\n"
            "C: {'Fn::Sub': 'x-${Stage}'}\n"
            "D: {'Fn::Join': [',', [a, b]]}\n"
            "E: {'Fn::Select': [0, {'Fn::Split': [',', 'a,b']}]}\n"
            "F: {'Fn::FindInMap': [M, k, v]}\n"
            "G: {'Fn::If': [C, {'Fn::Equals': [a, b]}, {'Fn::Not': [{Condition: C}]}]}\n"
            "H: {'Fn::Base64': hi}\n"
            "I: {'Fn::GetAtt': [Fn, Endpoint.Address]}\n",
            "long.yaml",
        )
    )
    assert short == long
    assert short["B"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert short["I"] == {"Fn::GetAtt": ["Fn", "Endpoint.Address"]}


def test_maps_and_lists_remember_their_lines(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "# comment\nTop:\n  Inner: 1\n  List:\n    - a\n    - !Ref B\n"))
    top = doc["Top"]
    assert isinstance(top, LocMap)
    assert doc.line_of("Top") == 2
    assert top.line_of("Inner") == 3
    assert top.line_of("List") == 4
    assert isinstance(top["List"], LocList)
    assert top["List"].item_lines == [5, 6]
    assert top["List"][1].line == 6


def test_timestamps_stay_strings_and_json_templates_load(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "Version: 2012-10-17\nWhen: 2001-12-14t21:59:43.10-05:00\n"))
    assert doc == {"Version": "2012-10-17", "When": "2001-12-14t21:59:43.10-05:00"}
    json_doc = load_yaml(write(tmp_path, '{"Resources": {"A": {"Type": "AWS::S3::Bucket"}}}', "t.json"))
    assert json_doc["Resources"]["A"]["Type"] == "AWS::S3::Bucket"


def test_a_yaml_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "Resources:\n  A:\n    Type: [unclosed\n")
    with pytest.raises(TemplateError) as caught:
        load_yaml(path)
    assert str(caught.value).startswith(f"{path}:")
    assert "YAML error" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, UsageError)
    assert caught.value.exit_code == 2


def test_a_yaml_error_line_is_where_the_problem_is(tmp_path: Path) -> None:
    path = write(tmp_path, "A: 1\nB: 2\nC: : :\n")
    with pytest.raises(TemplateError, match=rf"^{path}:3: YAML error"):
        load_yaml(path)


def test_duplicate_keys_are_refused_with_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "A: 1\nB: 2\nA: 3\n")
    with pytest.raises(TemplateError, match=rf"{path}:3: duplicate key 'A' \(first at line 1\)"):
        load_yaml(path)


def test_an_unknown_tag_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "A: 1\nB: !Reff X\n")
    with pytest.raises(TemplateError, match=rf"{path}:2: unknown tag !Reff"):
        load_yaml(path)


def test_getatt_without_an_attribute_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r":1: !GetAtt Fn has no attribute"):
        load_yaml(write(tmp_path, "A: !GetAtt Fn\n"))


def test_missing_file_and_non_mapping_documents(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(TemplateError, match="is not a mapping"):
        load_yaml(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(TemplateError, match="cannot be read"):
        load_yaml(tmp_path)
