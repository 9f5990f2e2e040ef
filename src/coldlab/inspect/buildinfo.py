"""The Go build info blob (`go version -m`): Go version, main module, dependencies, build settings.

Format from src/debug/buildinfo/buildinfo.go and src/runtime/debug/mod.go (Go >= 1.18, pointer-free form).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from coldlab.inspect.elf import ElfImage
from coldlab.inspect.errors import BinaryError, corrupt

MAGIC = b"\xff Go buildinf:"
_HEADER = 32
_ALIGN = 16
_FLAG_VERSION_INL = 0x2
_VERSION_RE = re.compile(r"^go1\.(\d+)")


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    sum: str = ""
    replace: Module | None = None


@dataclass(frozen=True)
class BuildInfo:
    go_version: str  # e.g. "go1.27.3"
    path: str = ""  # main package import path
    main: Module | None = None
    deps: tuple[Module, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()
    minor: int = 0  # 27 for go1.27.3
    raw: str = field(default="", repr=False)

    def setting(self, key: str) -> str | None:
        for k, v in self.settings:
            if k == key:
                return v
        return None


def read_buildinfo(image: ElfImage) -> BuildInfo:
    data, where = _blob_area(image)
    pos = _find_magic(data)
    if pos < 0:
        raise BinaryError(
            f"{image.path}: an ELF file without Go build information ({where} has no Go build info magic)",
            "coldlab inspects Go executables; is this a C program or a Go binary older than Go 1.18?",
        )
    header = data[pos : pos + _HEADER]
    if len(header) < _HEADER:
        raise corrupt(image.path, "the Go build info header is cut short")
    flags = header[15]
    if not flags & _FLAG_VERSION_INL:
        raise BinaryError(
            f"{image.path}: built by a Go release older than 1.18 (old build info format)",
            "coldlab supports binaries built by Go 1.18 through 1.27; rebuild with a newer Go",
        )
    cursor = pos + _HEADER
    version, cursor = _varint_string(image, data, cursor)
    modinfo, _ = _varint_string(image, data, cursor)
    go_version = version.decode("utf-8", "replace")
    match = _VERSION_RE.match(go_version)
    if not match:
        raise corrupt(image.path, f"the Go build info names an unreadable Go version {go_version[:40]!r}")
    return _parse_modinfo(go_version, int(match.group(1)), _strip_sentinels(modinfo))


def _blob_area(image: ElfImage) -> tuple[memoryview, str]:
    sec = image.section(".go.buildinfo")
    if sec is not None and sec.size:
        return image.section_bytes(sec), "section .go.buildinfo"
    # debug/buildinfo: else the first writable, non-executable loadable segment.
    for seg in image.segments:
        if seg.kind == "PT_LOAD" and seg.flags & 0x2 and not seg.flags & 0x1:
            end = min(image.size, seg.offset + seg.file_size)
            return memoryview(image.data)[seg.offset : end], "the first writable segment"
    return memoryview(b""), "the file"


def _find_magic(data: memoryview) -> int:
    raw = data.obj if isinstance(data.obj, bytes) and data.nbytes == len(data.obj) else bytes(data)
    start = 0
    while True:
        pos = raw.find(MAGIC, start)
        if pos < 0 or pos % _ALIGN == 0:
            return pos
        start = pos + 1


def _varint_string(image: ElfImage, data: memoryview, pos: int) -> tuple[bytes, int]:
    length = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise corrupt(image.path, "the Go build info strings are cut short")
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    if pos + length > len(data):
        raise corrupt(image.path, "a Go build info string runs past its section")
    return bytes(data[pos : pos + length]), pos + length


def _strip_sentinels(mod: bytes) -> str:
    # cmd/go wraps modinfo in 16-byte sentinels (modload.infoStart/infoEnd); without them it is empty.
    if len(mod) >= 33 and mod[-17] == ord("\n"):
        return mod[16:-16].decode("utf-8", "replace")
    return ""


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '"`':
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text[1:-1]
        return str(value)
    return text


def _split_setting(text: str) -> tuple[str, str]:
    if text.startswith('"'):
        # quoted key: find the closing quote that is followed by '='
        for i in range(1, len(text)):
            if text[i] == '"' and text[i - 1] != "\\" and text[i + 1 : i + 2] == "=":
                return _unquote(text[: i + 1]), _unquote(text[i + 2 :])
    key, _, value = text.partition("=")
    return key, _unquote(value)


def _parse_modinfo(go_version: str, minor: int, text: str) -> BuildInfo:
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: list[tuple[str, str]] = []
    for line in text.splitlines():
        cols = line.split("\t")
        kind = cols[0]
        if kind == "path" and len(cols) >= 2:
            path = cols[1]
        elif kind in ("mod", "dep") and len(cols) >= 3:
            module = Module(cols[1], cols[2], cols[3] if len(cols) > 3 else "")
            if kind == "mod":
                main = module
            else:
                deps.append(module)
        elif kind == "=>" and len(cols) >= 3:
            replacement = Module(cols[1], cols[2], cols[3] if len(cols) > 3 else "")
            if deps:
                deps[-1] = Module(deps[-1].path, deps[-1].version, deps[-1].sum, replacement)
            elif main is not None:
                main = Module(main.path, main.version, main.sum, replacement)
        elif kind == "build" and len(cols) >= 2:
            settings.append(_split_setting("\t".join(cols[1:])))
    return BuildInfo(go_version, path, main, tuple(deps), tuple(settings), minor, text)


def format_go_version_m(info: BuildInfo) -> list[str]:
    """The module lines exactly as `go version -m` prints them (without the leading tab)."""

    def cols(kind: str, m: Module) -> str:
        return "\t".join([kind, m.path, m.version] if m.replace else [kind, m.path, m.version, m.sum])

    lines = []
    if info.path:
        lines.append(f"path\t{info.path}")
    for kind, mod in ([("mod", info.main)] if info.main else []) + [("dep", d) for d in info.deps]:
        lines.append(cols(kind, mod))
        if mod.replace is not None:
            lines.append("\t".join(["=>", mod.replace.path, mod.replace.version, mod.replace.sum]))
    return lines
