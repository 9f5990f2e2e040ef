"""Build facts: version, target, cgo, stripping, trimpath, PIE, dynamic linking, Lambda RPC mode."""

from __future__ import annotations

from collections.abc import Collection

from coldlab.inspect.buildinfo import BuildInfo
from coldlab.inspect.elf import ElfImage
from coldlab.inspect.model import Facts

_LEVEL_KEYS = ("GOAMD64", "GOARM64", "GOARM", "GO386")
LAMBDA_PKG = "github.com/aws/aws-lambda-go/lambda"


def build_facts(image: ElfImage, info: BuildInfo, packages: Collection[str], files: tuple[str, ...]) -> Facts:
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
    if LAMBDA_PKG not in packages:
        rpc = "not applicable (aws-lambda-go is not linked)"
    elif "net/rpc" in packages:
        rpc = "compiled in (net/rpc is linked; build with -tags lambda.norpc)"
    else:
        rpc = "not compiled in (lambda.norpc)"
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
        build_tags=tags,
        ldflags=info.setting("-ldflags"),
        main_path=info.path,
        main_module=info.main,
        deps=info.deps,
        settings=info.settings,
        notes=tuple(notes),
    )
