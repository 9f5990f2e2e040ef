"""Intrinsics and parameters as `sam local` resolves them; what cannot be resolved is named by line."""

from __future__ import annotations

import base64
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from coldlab.errors import UsageError
from coldlab.template import TemplateError, TemplateResult, load_template, parse_parameter_overrides


def load(
    tmp_path: Path, head: str, variables: str, overrides: Mapping[str, str] | None = None
) -> TemplateResult:
    """A template with one function whose Environment.Variables are `variables` (YAML, 8 spaces deep)."""
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "bootstrap").write_text("#!/bin/sh\n")
    path = tmp_path / "template.yaml"
    body = textwrap.dedent(head) + textwrap.dedent(
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: my-fn
              CodeUri: code
              Runtime: provided.al2023
              Environment:
                Variables:
        """
    )
    body += textwrap.indent(textwrap.dedent(variables), " " * 10)
    path.write_text(body)
    return load_template(path, overrides or {}, build=False)


def env(tmp_path: Path, variables: str, head: str = "", **overrides: str) -> dict[str, str]:
    return dict(load(tmp_path, head, variables, overrides).functions[0].config.environment)


PARAMS = """
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Mem: {Type: Number, Default: 256, MinValue: 128, MaxValue: 1024}
  Zones: {Type: CommaDelimitedList, Default: "a, b,c"}
  Secret: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /my/secret}
  NoDefault: {Type: String}
  Plain: {Type: 'AWS::SSM::Parameter::Value<String>'}
Mappings:
  Sizes:
    dev: {memory: 128}
    prod: {memory: 1024}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals [a, a]]
  Either: !Or [!Condition IsProd, !Equals [1, "1"]]
"""


def test_ref_of_parameters_defaults_and_overrides(tmp_path: Path) -> None:
    assert env(tmp_path, "A: !Ref Stage\nB: !Ref Mem\n", PARAMS) == {"A": "dev", "B": "256"}
    assert env(tmp_path, "A: !Ref Stage\n", PARAMS, Stage="prod") == {"A": "prod"}
    assert env(tmp_path, "A: !Join [':', !Ref Zones]\n", PARAMS) == {"A": "a:b:c"}


def test_pseudo_parameters_take_sam_locals_values(tmp_path: Path) -> None:
    got = env(
        tmp_path,
        """
        R: !Ref AWS::Region
        A: !Ref AWS::AccountId
        P: !Ref AWS::Partition
        S: !Ref AWS::StackName
        U: !Ref AWS::URLSuffix
        I: !Ref AWS::StackId
        """,
    )
    assert {k: got[k] for k in "RAPSU"} == {
        "R": "us-east-1",
        "A": "123456789012",
        "P": "aws",
        "S": "local",
        "U": "localhost",
    }
    assert got["I"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/local/")


def test_no_value_removes_the_property(tmp_path: Path) -> None:
    assert env(tmp_path, "A: !Ref AWS::NoValue\nB: kept\n") == {"B": "kept"}
    assert env(tmp_path, "A: !If [IsProd, prod, !Ref AWS::NoValue]\n", PARAMS) == {}


def test_ref_of_a_resource_is_its_logical_id_and_getatt_arn_uses_the_function_name(tmp_path: Path) -> None:
    got = env(tmp_path, "SELF: !Ref Fn\nARN: !GetAtt Fn.Arn\nSUB: !Sub '${Fn.Arn}/x'\n")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
    assert got == {"SELF": "Fn", "ARN": arn, "SUB": f"{arn}/x"}


def test_sub_string_and_list_forms_and_escapes(tmp_path: Path) -> None:
    got = env(
        tmp_path,
        """
        A: !Sub '${Stage}-${AWS::Region}'
        B: !Sub ['${Name}.${Stage}', {Name: !Ref Mem}]
        C: !Sub 'keep ${!Literal} as is'
        D: !Sub 'no variables'
        """,
        PARAMS,
    )
    assert got == {"A": "dev-us-east-1", "B": "256.dev", "C": "keep ${Literal} as is", "D": "no variables"}


def test_join_select_split_findinmap_base64_getazs_cidr(tmp_path: Path) -> None:
    got = env(
        tmp_path,
        """
        J: !Join ['-', [a, !Ref Stage, 3]]
        S: !Select [1, !Split [',', 'x,y,z']]
        M: !FindInMap [Sizes, !Ref Stage, memory]
        B: !Base64 hello
        Z: !Select [0, !GetAZs '']
        C: !Select [1, !Cidr [10.0.0.0/16, 2, 8]]
        L: !Join [',', [!Select [0, !Ref Zones]]]
        N: {'Fn::Length': [a, b, c]}
        T: {'Fn::ToJsonString': {a: 1}}
        """,
        PARAMS,
    )
    assert got == {
        "J": "a-dev-3",
        "S": "y",
        "M": "128",
        "B": base64.b64encode(b"hello").decode(),
        "Z": "us-east-1a",
        "C": "10.0.1.0/24",
        "L": "a",
        "N": "3",
        "T": '{"a":1}',
    }


def test_conditions_if_equals_and_or_not(tmp_path: Path) -> None:
    variables = """
        P: !If [IsProd, yes-prod, not-prod]
        D: !If [IsDev, dev, other]
        B: !If [Both, both, neither]
        E: !If [Either, either, none]
        """
    assert env(tmp_path, variables, PARAMS) == {"P": "not-prod", "D": "dev", "B": "both", "E": "either"}
    assert env(tmp_path, variables, PARAMS, Stage="prod")["P"] == "yes-prod"


def test_only_the_chosen_if_branch_is_resolved(tmp_path: Path) -> None:
    assert env(tmp_path, "A: !If [IsProd, !ImportValue nope, fine]\n", PARAMS) == {"A": "fine"}


def test_a_resource_whose_condition_is_false_is_not_served(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "bootstrap").write_text("")
    path.write_text(
        textwrap.dedent(PARAMS)
        + textwrap.dedent(
            """
            Resources:
              A: {Type: AWS::Serverless::Function, Properties: {CodeUri: code, Runtime: provided.al2023}}
              B:
                Type: AWS::Serverless::Function
                Condition: IsProd
                Properties: {CodeUri: code, Runtime: provided.al2023}
            """
        )
    )
    assert [spec.name for spec in load_template(path, build=False).functions] == ["A"]
    assert [spec.name for spec in load_template(path, {"Stage": "prod"}, build=False).functions] == ["A", "B"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ("X: !GetAtt Table.StreamArn\n", r"!GetAtt Table.StreamArn cannot be resolved locally"),
        ("X: !ImportValue shared-vpc\n", r"!ImportValue shared-vpc cannot be resolved locally"),
        ("X: !Ref Missing\n", r"!Ref Missing names no parameter or resource"),
        ("X: !Ref NoDefault\n", r"!Ref NoDefault: parameter NoDefault has no Default and no override"),
        ("X: !Ref Plain\n", r"!Ref Plain: its value is read from SSM Parameter Store"),
        ("X: !Sub '${Table.StreamArn}'\n", r"!GetAtt Table.StreamArn cannot be resolved locally"),
        ("X: !FindInMap [Sizes, test, memory]\n", r"no key 'test' in Mappings"),
        ("X: !Select [5, [a, b]]\n", r"!Select index 5 is outside a list of 2"),
        ("X: !If [Nope, a, b]\n", r"condition 'Nope' is not defined"),
        ("X: {'Fn::Nope': 1}\n", r"!Nope 1 cannot be resolved locally"),
        ("X: !GetAtt Ghost.Arn\n", r"no resource 'Ghost'"),
    ],
)
def test_unresolvable_intrinsics_name_file_line_and_property(
    tmp_path: Path, variables: str, message: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        load_with_table(tmp_path, PARAMS, variables)
    shown = str(caught.value)
    assert "\n" not in shown
    line = shown.split(":")[1]
    assert line.isdigit()
    assert f"{tmp_path / 'template.yaml'}:{line}: Resources.Fn.Properties.Environment.Variables.X: " in shown
    assert re.search(message, shown), shown
    assert caught.value.exit_code == 2


def load_with_table(tmp_path: Path, head: str, variables: str) -> TemplateResult:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "bootstrap").write_text("")
    path = tmp_path / "template.yaml"
    text = textwrap.dedent(head) + textwrap.dedent(
        """
        Resources:
          Table: {Type: AWS::DynamoDB::Table}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: code
              Runtime: provided.al2023
              Environment:
                Variables:
        """
    )
    text += textwrap.indent(variables, " " * 10)
    path.write_text(text)
    return load_template(path, build=False)


def test_the_error_line_is_the_line_of_the_property(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        load_with_table(tmp_path, "", "A: fine\nB: !ImportValue x\n")
    # Resources at 2, Table 3, Fn 4, Type 5, Properties 6, CodeUri 7, Runtime 8, Environment 9,
    # Variables 10, A 11, B 12.
    assert "template.yaml:12: Resources.Fn.Properties.Environment.Variables.B:" in str(caught.value)


def test_unresolvable_values_in_properties_coldlab_does_not_read_are_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "bootstrap").write_text("")
    path.write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: code\n      Runtime: provided.al2023\n      Role: !ImportValue shared-role\n"
    )
    assert load_template(path, build=False).functions[0].name == "Fn"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Stage": "test"}, r"--parameter-overrides Stage: value 'test' of parameter Stage is not one of"),
        ({"Mem": "64"}, r"value '64' of parameter Mem breaks MinValue 128"),
        ({"Mem": "lots"}, r"value 'lots' of parameter Mem is not a number"),
    ],
)
def test_parameter_values_are_checked_against_their_constraints(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        load(tmp_path, PARAMS, "A: x\n", overrides)


def test_a_bad_default_names_its_line(tmp_path: Path) -> None:
    head = "\nParameters:\n  Size:\n    Type: String\n    Default: toolong\n    MaxLength: 3\n"
    with pytest.raises(TemplateError, match=r"template.yaml:5: Parameters.Size.Default: value 'toolong'"):
        load(tmp_path, head, "A: x\n")


def test_an_override_of_an_undeclared_parameter_is_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, PARAMS, "A: x\n", {"Nope": "1"})
    assert result.warnings == (
        "--parameter-overrides Nope: the template declares no parameter 'Nope' (ignored)",
    )


def test_ssm_parameters_use_their_override(tmp_path: Path) -> None:
    assert env(tmp_path, "S: !Ref Plain\n", PARAMS, Plain="from-cli") == {"S": "from-cli"}


def test_parse_parameter_overrides_both_forms() -> None:
    assert parse_parameter_overrides(["A=1", "ParameterKey=B,ParameterValue=x=y", "C="]) == {
        "A": "1",
        "B": "x=y",
        "C": "",
    }
    with pytest.raises(UsageError, match="is not NAME=VALUE"):
        parse_parameter_overrides(["novalue"])
