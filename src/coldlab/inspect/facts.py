"""Build facts: version, target, cgo, stripping, trimpath, PIE, dynamic linking, Lambda RPC mode."""

from __future__ import annotations

from collections.abc import Collection

from coldlab.inspect.buildinfo import BuildInfo
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.model import Facts

_LEVEL_KEYS = ("GOAMD64", "GOARM64", "GOARM", "GO386")
LAMBDA_MODULE = "github.com/aws/aws-lambda-go"
LAMBDA_PKG = f"{LAMBDA_MODULE}/lambda"
# aws-lambda-go's go1.x RPC mode lives in lambda/rpc_function.go (`//go:build !lambda.norpc`): its init
# registers startFunctionRPC, which serves the Function type's Ping and Invoke over net/rpc. Older releases
# (before the tag existed) served the same Function type from StartHandler.
RPC_ENTRIES = (
    f"{LAMBDA_PKG}.startFunctionRPC",
    f"{LAMBDA_PKG}.(*Function).Invoke",
    f"{LAMBDA_PKG}.(*Function).Ping",
)
NORPC_TAG = "lambda.norpc"


def lambda_rpc_mode(
    tags: str | None, packages: Collection[str], functions: Collection[str], modules: Collection[str]
) -> tuple[str, str]:
    """(mode, the evidence it rests on) for aws-lambda-go's go1.x RPC mode.

    The function names come from the pclntab, which `-s -w` keeps, so stripped binaries are decided by
    them too. net/rpc being linked says little on its own (a program may use net/rpc itself); it decides
    only when aws-lambda-go is listed in the build info but none of its functions can be named.
    """
    tag_set = {t.strip() for t in (tags or "").split(",")}
    entries = [f for f in RPC_ENTRIES if f in functions]
    if entries:
        how = f"aws-lambda-go's RPC entry function {entries[0]} is in the function table"
        if NORPC_TAG in tag_set:  # a fork that ignores the tag: the code that is there wins
            how += f", although the build setting says -tags={tags}"
        return "compiled in (build with -tags lambda.norpc)", how
    if LAMBDA_PKG in packages:
        if NORPC_TAG in tag_set:
            return "not compiled in (lambda.norpc)", (
                f"build setting -tags={tags}; no aws-lambda-go RPC entry function in the function table"
            )
        return "not compiled in", (
            "no aws-lambda-go RPC entry function (lambda.startFunctionRPC, lambda.(*Function).Invoke) "
            "in the function table"
        )
    if LAMBDA_MODULE in modules and not any(p.startswith(f"{LAMBDA_MODULE}/") for p in packages):
        # the module is built in, but no function is named after it (renamed symbols): fall back
        if "net/rpc" in packages:
            return "probably compiled in (build with -tags lambda.norpc)", (
                "fallback: net/rpc is linked and aws-lambda-go is in the build info, "
                "but its functions cannot be named"
            )
        return "probably not compiled in", (
            "fallback: net/rpc is not linked; aws-lambda-go is in the build info, "
            "but its functions cannot be named"
        )
    return "not applicable (aws-lambda-go is not linked)", (f"no {LAMBDA_PKG} function in the function table")


def build_facts(
    image: ElfImage,
    info: BuildInfo,
    packages: Collection[str],
    files: tuple[str, ...],
    functions: Collection[str] = (),
) -> Facts:
    notes = []
    goarch = info.setting("GOARCH") or image.machine
    goos = info.setting("GOOS") or "linux"
    level = next((f"{k}={v}" for k in _LEVEL_KEYS if (v := info.setting(k))), None)
    cgo_setting = info.setting("CGO_ENABLED")
    cgo = None if cgo_setting is None else cgo_setting == "1"
    if cgo is None:
        notes.append("CGO_ENABLED is not recorded in the build info")
    names = [s.name for s in image.sections]
    trim_setting = info.setting("-trimpath")
    if trim_setting is not None:
        trimpath = trim_setting == "true"
    else:
        trimpath = not any(f.startswith("/") for f in files)
        notes.append("-trimpath inferred from the pclntab file names (no build setting)")
    tags = info.setting("-tags")
    rpc, evidence = lambda_rpc_mode(tags, packages, functions, tuple(m.path for m in info.deps))
    return Facts(
        go_version=info.go_version,
        goos=goos,
        goarch=goarch,
        arch_level=level,
        cgo_enabled=cgo,
        symbols_stripped=".symtab" not in names,
        dwarf_stripped=not any(n.startswith((".debug_", ".zdebug_")) for n in names),
        trimpath=trimpath,
        pie=image.elf_type == "ET_DYN",
        dynamically_linked=bool(image.interpreter or image.needed),
        interpreter=image.interpreter,
        needed=image.needed,
        lambda_rpc=rpc,
        lambda_rpc_evidence=evidence,
        build_tags=tags,
        ldflags=info.setting("-ldflags"),
        main_path=info.path,
        main_module=info.main,
        deps=info.deps,
        settings=info.settings,
        notes=tuple(notes),
    )
