"""Type descriptors per package (Go 1.27+), from moduledata's types..etypes.

runtime.moduleTypelinks (runtime/type.go, Go 1.27) walks the descriptors in [types+ptrSize,
types+typedesclen) by each one's `abi.(*Type).DescriptorSize()`, aligned to the pointer size; these are the
composite types reflect may look up. Named types sit beyond that range and are reached here by following
the element, key, field and parameter pointers of the walked ones (and of those reached, transitively).
A named type's UncommonType names its package (PkgPath); an unnamed `*T`, `[]T`, `[N]T`, `chan T` or
`map[K]T` goes to T's package. Everything is validated; a walk that does not end where expected yields [].
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass

from coldlab.inspect.elf import ElfImage

_TYPE = 48  # abi.Type on 64-bit targets
# kind -> size of the kind-specific descriptor (abi.ArrayType, ...), 64-bit, Go 1.27
_BASE = {17: 72, 18: 64, 19: 56, 20: 80, 21: 136, 22: 56, 23: 56, 25: 80}
_BASIC = set(range(1, 17)) | {24, 26}  # bool..complex128, string, unsafe.Pointer
_ARRAY, _CHAN, _FUNC, _INTERFACE, _MAP, _PTR, _SLICE, _STRUCT = 17, 18, 19, 20, 21, 22, 23, 25
_TFLAG_UNCOMMON = 1
_MAX_TYPES = 2_000_000
_MAX_COUNT = 1 << 16


@dataclass(frozen=True)
class TypeSpans:
    """Type descriptors as parallel lists, sorted by address: [start, end) VAs and package ("" if none)."""

    starts: list[int]
    ends: list[int]
    packages: list[str]

    @classmethod
    def empty(cls) -> TypeSpans:
        return cls([], [], [])

    def __len__(self) -> int:
        return len(self.starts)


# (size, package, element type VA or 0, VAs of the types it points at); a tuple because there are 100k+
_Desc = tuple[int, str, int, list[int]]


class _Reader:
    def __init__(self, image: ElfImage, types: int, etypes: int) -> None:
        self.data = image.data
        self.types = types
        self.base = image.va_to_offset(types) or 0
        self.limit = min(image.size, self.base + (etypes - types))
        self.names: dict[int, str] = {}
        # descriptors are pointer-aligned, so 8-byte words are read through one cast view (fast)
        self.q = memoryview(self.data)[: len(self.data) // 8 * 8].cast("Q")

    def word(self, pos: int) -> int:
        value: int = self.q[pos >> 3]
        return value

    def parse(self, pos: int, end: int) -> _Desc | None:
        """The descriptor at file offset `pos`, or None when it does not read as one inside [.., end)."""
        if pos + _TYPE > end or pos & 7:
            return None
        tflag, kind = self.data[pos + 20], self.data[pos + 23]
        if kind in _BASIC:
            size = _TYPE
        elif kind in _BASE:
            size = _BASE[kind]
        else:
            return None
        composite = self.composite(pos, kind)
        if composite is None:
            return None
        extra, refs, elem = composite
        package = ""
        if tflag & _TFLAG_UNCOMMON:
            if pos + size + 16 > end:
                return None
            pkg_off, mcount = struct.unpack_from("<iH", self.data, pos + size)
            package = self.name(pkg_off) if pkg_off else ""
            uncommon_end = size + 16
            size += 16 + mcount * 16
        else:
            uncommon_end = size
        if kind == _FUNC:
            n_in, n_out = struct.unpack_from("<HH", self.data, pos + 48)
            params = n_in + (n_out & 0x7FFF)
            extra = params * 8
            if pos + uncommon_end + extra <= end:
                refs += [self.word(pos + uncommon_end + 8 * i) for i in range(params)]
        size += extra
        if pos + size > end:
            return None
        return size, package, elem, refs

    def composite(self, pos: int, kind: int) -> tuple[int, list[int], int] | None:
        """(trailing array bytes, referenced type VAs, element type VA) of a non-func descriptor."""
        if kind in (_ARRAY, _CHAN, _PTR, _SLICE):
            elem = self.word(pos + 48)
            return 0, [elem], elem
        if kind == _MAP:
            key, elem = self.word(pos + 48), self.word(pos + 56)
            return 0, [key, elem], elem
        if kind not in (_INTERFACE, _STRUCT):
            return 0, [], 0
        count = self.word(pos + 64)
        if kind == _INTERFACE or not count:
            return (count * (8 if kind == _INTERFACE else 24), [], 0) if count <= _MAX_COUNT else None
        fields = self.offset(self.word(pos + 56))
        if count > _MAX_COUNT or fields is None or fields + 24 * count > self.limit:
            return None
        return count * 24, [self.word(fields + 24 * i + 8) for i in range(count)], 0

    def offset(self, va: int) -> int | None:
        off = self.base + (va - self.types)
        return off if self.base <= off < self.limit else None

    def name(self, off: int) -> str:
        """An abi.Name at types+off: one flags byte, a uvarint length, the bytes."""
        hit = self.names.get(off)
        if hit is not None:
            return hit
        at = self.base + off + 1
        length = shift = 0
        while at < self.limit and shift < 35:
            b = self.data[at]
            at += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        text = self.data[at : min(at + length, self.limit)].decode("utf-8", "replace")
        self.names[off] = text
        return text


def walk_types(image: ElfImage, types: int, typedesclen: int, etypes: int) -> TypeSpans:
    """Every type descriptor found, with its byte range and package; empty if the region does not walk."""
    r = _Reader(image, types, etypes)
    if image.va_to_offset(types) is None or typedesclen <= 0 or r.base + typedesclen > r.limit:
        return TypeSpans.empty()
    found: dict[int, _Desc] = {}
    end = r.base + typedesclen
    pos = r.base + 8  # runtime.types itself takes a pointer's width
    while pos < end:
        pos = (pos + 7) & ~7
        desc = r.parse(pos, end)
        if desc is None or len(found) > _MAX_TYPES:
            return TypeSpans.empty()
        found[types + (pos - r.base)] = desc
        pos += desc[0]
    # follow references to the named types laid out after the walkable range
    seen = set(found)
    queue: deque[int] = deque()

    def follow(refs: list[int]) -> None:
        for ref in refs:
            if ref not in seen:
                seen.add(ref)
                queue.append(ref)

    for walked in list(found.values()):
        follow(walked[3])
    while queue and len(found) <= _MAX_TYPES:
        va = queue.popleft()
        off = r.offset(va)
        desc = r.parse(off, r.limit) if off is not None else None
        if desc is not None:
            found[va] = desc
            follow(desc[3])
    starts = sorted(found)
    packages = []
    for va in starts:
        _, package, elem, _ = found[va]
        if not package and elem in found:
            package = found[elem][1]
        packages.append(package)
    return TypeSpans(starts, [va + found[va][0] for va in starts], packages)
