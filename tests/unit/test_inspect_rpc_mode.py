"""The RPC-mode decision on its own: which evidence wins, and the net/rpc fallback (pure data)."""

from __future__ import annotations

from coldlab.inspect.facts import LAMBDA_PKG, lambda_rpc_mode

LAMBDA_FUNCS = {f"{LAMBDA_PKG}.Start", f"{LAMBDA_PKG}.startRuntimeAPILoop"}
PACKAGES = {LAMBDA_PKG, "net/rpc", "main"}
MODULES = ("github.com/aws/aws-lambda-go",)


def test_the_build_tag_decides_even_with_net_rpc_linked() -> None:
    mode, evidence = lambda_rpc_mode("lambda.norpc", PACKAGES, LAMBDA_FUNCS, MODULES)
    assert mode == "not compiled in (lambda.norpc)"
    assert evidence.startswith("build setting -tags=lambda.norpc")


def test_entry_functions_decide_without_a_tag() -> None:
    mode, evidence = lambda_rpc_mode(
        None, PACKAGES, LAMBDA_FUNCS | {f"{LAMBDA_PKG}.(*Function).Invoke"}, MODULES
    )
    assert mode.startswith("compiled in")
    assert "lambda.(*Function).Invoke" in evidence
    mode, evidence = lambda_rpc_mode("netgo", PACKAGES, LAMBDA_FUNCS, MODULES)
    assert mode == "not compiled in"
    assert evidence.startswith("no aws-lambda-go RPC entry function")


def test_entry_functions_win_over_a_tag_that_was_ignored() -> None:
    mode, evidence = lambda_rpc_mode(
        "lambda.norpc", PACKAGES, LAMBDA_FUNCS | {f"{LAMBDA_PKG}.startFunctionRPC"}, MODULES
    )
    assert mode.startswith("compiled in")
    assert "although the build setting says -tags=lambda.norpc" in evidence


def test_net_rpc_is_only_the_fallback_when_no_aws_lambda_go_function_can_be_named() -> None:
    mode, evidence = lambda_rpc_mode(None, {"net/rpc", "main"}, {"main.main"}, MODULES)
    assert mode.startswith("probably compiled in")
    assert evidence.startswith("fallback: net/rpc is linked")
    mode, _ = lambda_rpc_mode(None, {"main"}, {"main.main"}, MODULES)
    assert mode == "probably not compiled in"


def test_no_aws_lambda_go_is_not_applicable() -> None:
    mode, _ = lambda_rpc_mode(None, {"net/rpc", "main"}, {"main.main"}, ())
    assert mode.startswith("not applicable")
    events_only = {"github.com/aws/aws-lambda-go/events", "main"}
    mode, _ = lambda_rpc_mode(None, events_only, {"main.main"}, MODULES)
    assert mode.startswith("not applicable")
