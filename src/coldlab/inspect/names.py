"""Symbol name -> Go package -> module. Mirrors debug/gosym's Sym.PackageName (with %2e unescaping)."""

from __future__ import annotations

from dataclasses import dataclass

from coldlab.inspect.buildinfo import BuildInfo

GENERATED = "(generated)"
CGO = "(cgo/C)"
NO_PACKAGE = "(assembly, no package)"
STD = "std"
# Compiler-made data symbols, spelt with ':' since Go 1.20 and with '.' before
TYPE_PREFIXES = ("type:", "type.")
ITAB_PREFIXES = ("go:itab.", "go.itab.")
FUNCDATA_PREFIXES = ("go:func.", "go.func.")


def _generated(name: str) -> bool:
    """Compiler-made names: `go:` and `type:` since Go 1.20; `type..` (eq, hash) and `go.` without an import
    path before (Go 1.18-1.19, which debug/gosym also treats as package-less)."""
    if name.startswith(("go:", "type:", "type..")):
        return True
    return name.startswith("go.") and "/" not in name


def package_of(name: str) -> str:
    """The import path of the package a function belongs to."""
    if _generated(name):
        return GENERATED
    if name.startswith(("_cgo_", "x_cgo_", "crosscall", "__", "_start")):
        return CGO
    bracket = name.find("[")
    if bracket >= 0:  # generic instantiation: drop the type arguments (gosym nameWithoutInst)
        close = name.rfind("]")
        name = name[:bracket] + (name[close + 1 :] if close > bracket else "")
    pathend = max(name.rfind("/"), 0)
    dot = name.find(".", pathend)
    if dot < 0:
        return NO_PACKAGE
    return name[:dot].replace("%2e", ".")


def data_package(name: str) -> str:
    """The package owning a data symbol: type descriptors and itabs go to the package of their type."""
    if name.startswith(TYPE_PREFIXES) and not name.startswith("type.."):
        rest = name[5:].lstrip("*[]0123456789")
        if rest.startswith(("map[", "func(", "struct {", "interface {", "chan ", ".")) or "." not in rest:
            return GENERATED
        return package_of(rest)
    if name.startswith(ITAB_PREFIXES):
        return package_of(name[8:].lstrip("*").split(",", 1)[0])
    if _generated(name):
        return GENERATED
    return package_of(name)


@dataclass(frozen=True)
class ModuleOf:
    module: str
    inferred: bool  # True when the build info lists no module for it (GOPATH builds): a path heuristic


class ModuleMap:
    """Maps packages to modules by longest prefix over the build info's main module and dependencies."""

    def __init__(self, info: BuildInfo) -> None:
        self.main = info.main.path if info.main else (info.path or "main")
        paths = [d.path for d in info.deps]
        if info.main:
            paths.append(info.main.path)
        self._prefixes = sorted(set(paths), key=len, reverse=True)
        self._cache: dict[str, ModuleOf] = {}

    def module_of(self, package: str) -> ModuleOf:
        hit = self._cache.get(package)
        if hit is None:
            hit = self._cache[package] = self._lookup(package)
        return hit

    def _lookup(self, package: str) -> ModuleOf:
        if package == "main":
            return ModuleOf(self.main, False)
        if package.startswith("("):
            return ModuleOf(package, False)
        for prefix in self._prefixes:
            if package == prefix or package.startswith(prefix + "/"):
                return ModuleOf(prefix, False)
        first = package.split("/", 1)[0]
        if "." not in first:
            return ModuleOf(STD, False)
        return ModuleOf(_infer_module(package), True)


def _infer_module(package: str) -> str:
    parts = package.split("/")
    n = 2 if parts[0] in ("gopkg.in", "google.golang.org", "k8s.io", "go.uber.org", "cloud.google.com") else 3
    root = "/".join(parts[:n])
    if root == "github.com/aws/aws-sdk-go-v2" and len(parts) > 4:
        # aws-sdk-go-v2 is many modules: service/X, feature/A/B, config, credentials, internal/...
        sub = parts[3]
        if sub == "service":
            n = 6 if parts[4] == "internal" else 5
        elif sub == "feature":
            n = 6
        elif sub in ("config", "credentials"):
            n = 4
        elif sub == "internal" and parts[4] in ("configsources", "ini", "v4a"):
            n = 5
        elif sub == "internal" and parts[4] == "endpoints" and len(parts) > 5 and parts[5] == "v2":
            n = 6
    elif root == "github.com/aws/aws-sdk-go-v2" and len(parts) == 4 and parts[3] in ("config", "credentials"):
        n = 4
    return "/".join(parts[:n])
