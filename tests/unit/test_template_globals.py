"""Globals.Function merges as the SAM translator merges it (reference §1.2)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from coldlab.template import TemplateError, TemplateResult, load_template
from coldlab.template.globals import merge
from coldlab.template.nodes import LocList, LocMap


def load(tmp_path: Path, text: str) -> TemplateResult:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "bootstrap").write_text("#!/bin/sh\n")
    (code / "bootstrap").chmod(0o755)
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    return load_template(path, build=False)


FUNCTION = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code
      Runtime: provided.al2023
"""


def test_maps_merge_recursively_and_the_resource_wins_on_duplicates(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        Globals:
          Function:
            Environment:
              Variables: {TABLE: foo, DB: generic}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: code
              Runtime: provided.al2023
              Environment:
                Variables: {DB: mine, EXTRA: bar}
        """,
    )
    assert dict(result.functions[0].config.environment) == {"TABLE": "foo", "DB": "mine", "EXTRA": "bar"}


def test_scalars_the_resource_wins_and_globals_fill_what_it_leaves_out(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        Globals:
          Function: {MemorySize: 512, Timeout: 30, Runtime: provided.al2}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: code, Runtime: provided.al2023, MemorySize: 1024}
        """,
    )
    config = result.functions[0].config
    assert (config.memory_mb, config.timeout_s) == (1024, 30)


def test_lists_concatenate_globals_first_without_deduplication() -> None:
    assert merge(["a", "b"], ["a", "c"]) == ["a", "b", "a", "c"]
    lines = LocList(["g"], line=3)
    lines.item_lines = [3]
    local = LocList(["l"], line=9)
    local.item_lines = [9]
    merged = merge(lines, local)
    assert merged.item_lines == [3, 9]


def test_layers_from_globals_come_before_the_functions_own(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    result = load(
        tmp_path,
        """
        Globals:
          Function:
            Layers: [!Ref One]
        Resources:
          One: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: one}}
          Two: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: two}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: code
              Runtime: provided.al2023
              Layers: [!Ref Two]
        """,
    )
    assert result.functions[0].layers == (tmp_path / "one", tmp_path / "two")


def test_a_type_mismatch_takes_the_resource_value() -> None:
    assert merge({"a": 1}, ["x"]) == ["x"]
    assert merge(["x"], "scalar") == "scalar"
    assert merge("scalar", {"k": "v"}) == {"k": "v"}


def test_an_intrinsic_counts_as_a_scalar_and_replaces_rather_than_merges() -> None:
    assert merge({"Variables": {"A": "1"}}, {"Ref": "Env"}) == {"Ref": "Env"}
    assert merge({"Fn::If": ["C", "a", "b"]}, {"Other": "x"}) == {"Other": "x"}
    assert merge({"Env": {"Ref": "X"}}, {"Env": {"Fn::Sub": "y"}}) == {"Env": {"Fn::Sub": "y"}}


def test_merged_keys_keep_the_line_they_were_written_on() -> None:
    global_map = LocMap({"Timeout": 5, "Env": "g"}, line=2)
    global_map.key_lines = {"Timeout": 3, "Env": 4}
    local_map = LocMap({"Env": "l"}, line=10)
    local_map.key_lines = {"Env": 11}
    merged = merge(global_map, local_map)
    assert merged.key_lines == {"Timeout": 3, "Env": 11}


def test_ignore_globals_star_and_list(tmp_path: Path) -> None:
    globals_part = """
        Globals:
          Function: {MemorySize: 512, Timeout: 30}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            IgnoreGlobals: IGNORE
            Properties: {CodeUri: code, Runtime: provided.al2023}
        """
    star = load(tmp_path, globals_part.replace("IGNORE", "'*'")).functions[0].config
    assert (star.memory_mb, star.timeout_s) == (128, 3)
    some = load(tmp_path, globals_part.replace("IGNORE", "[MemorySize]")).functions[0].config
    assert (some.memory_mb, some.timeout_s) == (128, 30)
    with pytest.raises(TemplateError, match=r"template.yaml:7: Resources.Fn.IgnoreGlobals: .*'Handler'"):
        load(tmp_path, globals_part.replace("IGNORE", "[Handler]"))


def test_plain_lambda_functions_receive_no_globals(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        Globals:
          Function: {MemorySize: 512, Runtime: provided.al2}
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Code: code, Runtime: provided.al2023}
        """,
    )
    assert result.functions[0].config.memory_mb == 128


def test_an_error_in_a_global_value_names_the_line_in_globals(tmp_path: Path) -> None:
    with pytest.raises(
        TemplateError, match=r"template.yaml:6: Resources.Fn.Properties.Environment.Variables.X: "
    ):
        load(
            tmp_path,
            "\nGlobals:\n  Function:\n    Environment:\n      Variables:\n        X: !ImportValue x\n"
            + FUNCTION,
        )


@pytest.mark.parametrize("key", ["Role", "Policies", "FunctionName", "Events"])
def test_properties_that_are_not_globals_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(
        TemplateError, match=rf"template.yaml:4: Globals.Function.{key}: {key} cannot be a global"
    ):
        load(tmp_path, f"\nGlobals:\n  Function:\n    {key}: x\n" + FUNCTION)


def test_an_unknown_globals_key_is_a_warning_and_an_unknown_section_an_error(tmp_path: Path) -> None:
    result = load(tmp_path, "\nGlobals:\n  Function:\n    MemmorySize: 512\n" + FUNCTION)
    assert len(result.warnings) == 1
    assert (
        "template.yaml:4: Globals.Function.MemmorySize: 'MemmorySize' is not a property" in result.warnings[0]
    )
    with pytest.raises(
        TemplateError, match=r"template.yaml:3: Globals.Functions: 'Functions' is not a Globals"
    ):
        load(tmp_path, "\nGlobals:\n  Functions:\n    Timeout: 5\n" + FUNCTION)
