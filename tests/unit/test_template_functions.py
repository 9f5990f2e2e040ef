"""Function properties read into FunctionSpec values, and each bad input as one line with file and line."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from coldlab.platform.spec import FunctionUrlSpec, RouteSpec
from coldlab.template import TemplateError, TemplateResult, load_template


def load(tmp_path: Path, text: str) -> TemplateResult:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "bootstrap").write_text("#!/bin/sh\n")
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_template(path, build=False)


def function(properties: str, kind: str = "AWS::Serverless::Function", extra: str = "") -> str:
    """A template with one function `Fn`; its properties start on line 5."""
    body = textwrap.indent(textwrap.dedent(properties).strip("\n"), " " * 6)
    return f"Resources:\n  Fn:\n    Type: {kind}\n{extra}    Properties:\n{body}\n"


BASE = "CodeUri: code\nRuntime: provided.al2023\n"


def test_every_property_coldlab_reads(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        function(
            """
            CodeUri: code
            Runtime: provided.al2023
            FunctionName: orders
            Handler: bootstrap
            Architectures: [x86_64]
            MemorySize: 1769
            Timeout: 30
            EphemeralStorage: {Size: 1024}
            Environment: {Variables: {A: 1, B: true, C: null, D: text}}
            ReservedConcurrentExecutions: 3
            AutoPublishAlias: live
            ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}
            FunctionUrlConfig: {AuthType: AWS_IAM, InvokeMode: RESPONSE_STREAM}
            LoggingConfig: {LogFormat: JSON}
            Events:
              Get: {Type: HttpApi, Properties: {Path: '/items/{id}', Method: get}}
              Any: {Type: HttpApi}
              Rest: {Type: Api, Properties: {Path: '/{proxy+}', Method: ANY}}
            """
        ),
    )
    spec = result.functions[0]
    config = spec.config
    assert (spec.name, spec.logical_id, config.function_name) == ("orders", "Fn", "orders")
    assert (config.memory_mb, config.timeout_s, config.ephemeral_storage_mb) == (1769, 30, 1024)
    assert (config.architecture, config.handler, config.code) == ("x86_64", "bootstrap", tmp_path / "code")
    assert dict(config.environment) == {"A": "1", "B": "true", "C": "", "D": "text"}
    assert (spec.reserved_concurrency, spec.alias, spec.provisioned_concurrency) == (3, "live", 2)
    assert spec.function_url == FunctionUrlSpec(auth_type="AWS_IAM", invoke_mode="RESPONSE_STREAM")
    assert spec.log_format == "json"
    assert spec.routes == (
        RouteSpec(api="HttpApi", method="GET", path="/items/{id}"),
        RouteSpec(api="HttpApi", method="ANY", path="$default"),
        RouteSpec(api="Api", method="ANY", path="/{proxy+}"),
    )
    assert spec.source == f"{tmp_path / 'template.yaml'}:2"
    assert result.warnings == ()


def test_defaults_are_lambdas_and_a_plain_lambda_function_reads_code(tmp_path: Path) -> None:
    spec = load(tmp_path, function("Code: code\nRuntime: provided.al2\n", "AWS::Lambda::Function")).functions[
        0
    ]
    config = spec.config
    assert (config.memory_mb, config.timeout_s, config.architecture, config.handler) == (
        128,
        3,
        "x86_64",
        "bootstrap",
    )
    assert (spec.name, spec.alias, spec.function_url, spec.log_format, spec.routes) == (
        "Fn",
        None,
        None,
        "text",
        (),
    )


def test_unknown_properties_and_unserved_events_are_warnings(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        function(
            BASE
            + "MemmorySize: 256\nEvents:\n  Nightly: {Type: Schedule, Properties: {Schedule: rate(1 day)}}\n"
        ),
    )
    assert len(result.functions) == 1
    assert result.warnings == (
        f"{tmp_path / 'template.yaml'}:7: Resources.Fn.Properties.MemmorySize: 'MemmorySize' is not a property of"
        " AWS::Serverless::Function (ignored; check the spelling)",
        f"{tmp_path / 'template.yaml'}:9: Resources.Fn.Properties.Events.Nightly: event type Schedule is not served"
        " locally (only HttpApi and Api are)",
    )


def test_a_zip_holding_bootstrap_is_used_as_it_is(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "fn.zip", "w") as bundle:
        bundle.writestr("bootstrap", "#!/bin/sh\n")
    spec = load(tmp_path, function("CodeUri: fn.zip\nRuntime: provided.al2023\n")).functions[0]
    assert spec.config.code == tmp_path / "fn.zip"


def test_go_source_without_build_is_returned_as_the_source_directory(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.go").write_text("package main\nfunc main() {}\n")
    spec = load(tmp_path, function("CodeUri: src\nRuntime: provided.al2023\n")).functions[0]
    assert spec.config.code == src


@pytest.mark.parametrize(
    ("properties", "line", "message"),
    [
        ("Runtime: provided.al2023\n", 2, r": CodeUri is missing \(set CodeUri"),
        (
            "CodeUri: s3://bucket/key.zip\nRuntime: provided.al2023\n",
            5,
            r"CodeUri: CodeUri s3://bucket/key.zip is an S3",
        ),
        ("CodeUri: {Bucket: b, Key: k}\nRuntime: provided.al2023\n", 5, r"is an S3 location"),
        ("CodeUri: nowhere\nRuntime: provided.al2023\n", 5, r"CodeUri nowhere does not exist"),
        ("CodeUri: empty\nRuntime: provided.al2023\n", 5, r"holds neither `bootstrap` nor Go source"),
        ("CodeUri: bad.zip\nRuntime: provided.al2023\n", 5, r"has no `bootstrap` at its root"),
        ("CodeUri: code\n", 4, r"Runtime is missing"),
        ("CodeUri: code\nRuntime: go1.x\n", 6, r"go1.x is no longer supported"),
        ("CodeUri: code\nRuntime: python3.12\n", 6, r"Runtime python3.12 is not served"),
        (BASE + "Architectures: [x86_64, arm64]\n", 7, r"is not \[x86_64\] or \[arm64\]"),
        (
            BASE + "MemorySize: 64\n",
            7,
            r"MemorySize: memory size 64 MB is out of range \(use a whole number from 128",
        ),
        (BASE + "Timeout: 901\n", 7, r"Timeout: timeout 901 s is out of range"),
        (BASE + "Timeout: soon\n", 7, r"'soon' is not a whole number"),
        (BASE + "EphemeralStorage: {Size: 100}\n", 7, r"ephemeral storage 100 MB is out of range"),
        (BASE + "FunctionName: 'has space'\n", 7, r"function name 'has space' is invalid"),
        (BASE + "Environment: {Variables: {1BAD: x}}\n", 7, r"environment variable name '1BAD' is invalid"),
        (BASE + "Environment: {Variables: {L: [a]}}\n", 7, r"environment variable L is a list or map"),
        (
            BASE + "ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}\n",
            7,
            r"needs AutoPublishAlias",
        ),
        (BASE + "AutoPublishAlias: '123'\n", 7, r"AutoPublishAlias '123' is not a valid alias name"),
        (BASE + "FunctionUrlConfig: {AuthType: OPEN}\n", 7, r"AuthType 'OPEN' is not NONE or AWS_IAM"),
        (BASE + "LoggingConfig: {LogFormat: XML}\n", 7, r"LogFormat 'XML' is unknown"),
        (BASE + "ReservedConcurrentExecutions: -1\n", 7, r"-1 is below 0"),
        (BASE + "PackageType: Image\n", 7, r"PackageType Image is not served"),
        (BASE + "InlineCode: 'print(1)'\n", 7, r"InlineCode cannot be a Go bootstrap"),
        (
            BASE + "Events:\n  E: {Type: Api, Properties: {Path: items, Method: GET}}\n",
            8,
            r"Path 'items' must start",
        ),
        (
            BASE + "Events:\n  E: {Type: HttpApi, Properties: {Path: /x, Method: FETCH}}\n",
            8,
            r"Method 'FETCH' is unknown",
        ),
    ],
)
def test_bad_function_properties_are_one_line_with_file_line_and_property(
    tmp_path: Path, properties: str, line: int, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.zip").write_bytes(_zip_without_bootstrap())
    with pytest.raises(
        TemplateError, match=rf"^{tmp_path / 'template.yaml'}:{line}: Resources.Fn.*{message}"
    ) as caught:
        load(tmp_path, function(properties))
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def _zip_without_bootstrap() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("main", "x")
    return buffer.getvalue()


def test_unknown_resource_types_are_errors_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r":3: Resources.Fn.Type: unknown resource type AWS::Serverless::Funtion \(did you"
                       r" mean AWS::Serverless::Function\?\)"):  # fmt: skip
        load(tmp_path, function(BASE, "AWS::Serverless::Funtion"))
    with pytest.raises(TemplateError, match=r"unknown resource type NotAType"):
        load(tmp_path, function(BASE, "NotAType"))
    other = (
        "Resources:\n  T: {Type: AWS::DynamoDB::Table}\n  C: {Type: Custom::Thing}\n" + function(BASE)[11:]
    )
    assert [spec.name for spec in load(tmp_path, other).functions] == ["Fn"]


def test_a_template_without_functions_or_resources_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        TemplateError, match=r"no AWS::Serverless::Function or AWS::Lambda::Function to serve"
    ):
        load(tmp_path, "Resources:\n  T: {Type: AWS::S3::Bucket}\n")
    with pytest.raises(TemplateError, match=r":1: Resources: the template has no Resources"):
        load(tmp_path, "Parameters: {}\n")


def test_two_functions_with_one_name_are_refused(tmp_path: Path) -> None:
    text = (
        "Resources:\n"
        "  A: {Type: AWS::Serverless::Function, Properties: {CodeUri: code, Runtime: provided.al2023, FunctionName: x}}\n"
        "  B: {Type: AWS::Serverless::Function, Properties: {CodeUri: code, Runtime: provided.al2023, FunctionName: x}}\n"
    )
    with pytest.raises(TemplateError, match=r":3: function name x is also used by A \(.*:2\)"):
        load(tmp_path, text)


def test_build_methods_other_than_go(tmp_path: Path) -> None:
    metadata = "    Metadata: {BuildMethod: makefile}\n"
    result = load(tmp_path, function(BASE, extra=metadata))
    assert "BuildMethod makefile is not run by coldlab; using the `bootstrap` there" in result.warnings[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(TemplateError, match=r"BuildMethod makefile is not supported"):
        load(tmp_path, function("CodeUri: empty\nRuntime: provided.al2023\n", extra=metadata))
    with pytest.raises(TemplateError, match=r"BuildMethod is go1.x but .* holds no Go source"):
        load(tmp_path, function(BASE, extra="    Metadata: {BuildMethod: go1.x}\n"))


def test_a_layer_that_is_not_local_is_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, function(BASE + "Layers: ['arn:aws:lambda:us-east-1:123456789012:layer:x:1']\n"))
    assert result.functions[0].layers == ()
    assert "layer arn:aws:lambda:us-east-1:123456789012:layer:x:1 is not a local layer" in result.warnings[0]


def test_lambda_url_and_alias_resources_apply_to_plain_functions(tmp_path: Path) -> None:
    text = """
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Code: code, Runtime: provided.al2023, FunctionName: plain}
          Version: {Type: AWS::Lambda::Version, Properties: {FunctionName: !Ref Fn}}
          Live:
            Type: AWS::Lambda::Alias
            Properties:
              FunctionName: !Ref Fn
              FunctionVersion: !GetAtt Version.Version
              Name: live
              ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 3}
          Url:
            Type: AWS::Lambda::Url
            Properties: {TargetFunctionArn: !Ref Live, AuthType: NONE}
          Other:
            Type: AWS::Lambda::Function
            Properties: {Code: code, Runtime: provided.al2023}
          OtherUrl:
            Type: AWS::Lambda::Url
            Properties: {TargetFunctionArn: !GetAtt Other.Arn, AuthType: AWS_IAM, InvokeMode: RESPONSE_STREAM}
        """
    plain, other = load(tmp_path, text).functions
    assert (plain.alias, plain.provisioned_concurrency, plain.function_url) == ("live", 3, FunctionUrlSpec())
    assert (other.alias, other.function_url) == (None, FunctionUrlSpec("AWS_IAM", "RESPONSE_STREAM"))


def test_a_url_for_a_function_outside_the_template_is_refused(tmp_path: Path) -> None:
    text = function(BASE) + (
        "  Url:\n    Type: AWS::Lambda::Url\n"
        "    Properties: {TargetFunctionArn: 'arn:aws:lambda:us-east-1:1:function:elsewhere', AuthType: NONE}\n"
    )
    with pytest.raises(
        TemplateError, match=r":9: Resources.Url.Properties.TargetFunctionArn: .* names no function"
    ):
        load(tmp_path, text)


def test_environment_over_4_kb_names_the_property(tmp_path: Path) -> None:
    variables = "".join(f"    V{index}: {'x' * 100}\n" for index in range(45))
    text = function(BASE + "Environment:\n  Variables:\n" + variables)
    with pytest.raises(
        TemplateError, match=r":7: Resources.Fn.Properties.Environment: environment variables take \d+ bytes"
    ):
        load(tmp_path, text)


def test_an_http_api_event_with_payload_1_0_is_a_warning(tmp_path: Path) -> None:
    events = (
        "Events:\n  E: {Type: HttpApi, Properties: {Path: /x, Method: GET, PayloadFormatVersion: '1.0'}}\n"
    )
    result = load(tmp_path, function(BASE + events))
    assert result.functions[0].routes == (RouteSpec(api="HttpApi", method="GET", path="/x"),)
    assert "PayloadFormatVersion 1.0 is not served" in result.warnings[0]
