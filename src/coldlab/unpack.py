"""Unpacking archives into a directory coldlab owns: no entry can write outside it, or later point outside it.

Safe by construction, not by a check per entry (a per-entry check is undone by a later link that changes
what an earlier path resolves to). Every unpacker (function zips today, layers and image layers next) hands
its entries to `unpack` as `Member`s, which then works in four steps:

1. plan: each entry's path is split into names (absolute paths, `..` and NUL refused) and the whole tree is
   laid out in memory first; a path that must be both a directory and a file or link is refused, a later
   duplicate of the same kind replaces the earlier one. Links resolve inside the plan, physically as the
   kernel would, but any step above the root or to an absolute path counts as leaving: the package is
   refused when one link (at any depth of a chain) leads outside, before anything is written.
2. write: directories and files, opened one name at a time from the target's descriptor
   (O_DIRECTORY|O_NOFOLLOW) and created with O_CREAT|O_EXCL|O_NOFOLLOW. No link exists yet, and none is ever
   followed, so no write can land outside. Bytes are counted as written, not as the archive claims.
3. links, last, each created relative to its parent directory's descriptor.
4. directory modes, last (a read-only directory entry would otherwise refuse its own children).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coldlab.errors import UsageError

Kind = Literal["file", "dir", "link"]
TreePath = tuple[str, ...]

MAX_DEPTH = 255  # directories held open at once while walking (the process has 1,024 descriptors)
MAX_NAME_BYTES = 255  # NAME_MAX
MAX_PATH_BYTES = 4095  # PATH_MAX - 1
MAX_LINK_HOPS = 40  # the kernel's MAXSYMLINKS: a path that needs more links than that reaches nothing (ELOOP)
MAX_LINK_STEPS = 2_000_000  # names walked checking all links: bounds the work a hostile archive can ask for
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class UnpackError(UsageError):
    """An archive that cannot be unpacked safely, or at all (exit code 2): the message names the entry."""


class SizeLimitError(UnpackError):
    """The archive writes more bytes than the caller allows; the caller words the limit for its domain."""

    def __init__(self, message: str, hint: str, *, limit: int) -> None:
        super().__init__(message, hint)
        self.limit = limit


@dataclass(frozen=True)
class Member:
    """One archive entry as an unpacker sees it. `chunks` yields a file's data; `link` is a link's target."""

    name: str  # as the archive spells it, for messages
    kind: Kind
    mode: int = 0  # permission bits as recorded; 0 when the archive recorded none
    chunks: Callable[[], Iterator[bytes]] | None = None
    link: str = ""


@dataclass(frozen=True)
class Unpacked:
    """What `unpack` wrote."""

    files: int
    dirs: int
    links: int
    bytes_written: int


Plan = dict[TreePath, Member | None]  # None: a directory implied by a deeper entry


def unpack(
    members: Iterable[Member], target: Path, *, label: str, max_bytes: int, what: str = "archive"
) -> Unpacked:
    """Unpack `members` into the empty directory `target`. `label` names the archive in errors, `what`
    names what it holds ("package", "layer"). Raises UnpackError; on error the caller removes `target`."""
    tree = plan(members, label)
    check_links(tree, label, what)
    writer = _Writer(target, label, max_bytes)
    try:
        for path, member in tree.items():
            if member is None or member.kind == "dir":
                writer.mkdir(path, _name(path, member))
            elif member.kind == "file":
                writer.file(path, member)
        for path, member in tree.items():
            if member is not None and member.kind == "link":
                writer.link(path, member)
        for path, member in tree.items():  # preorder: a parent is opened before its own mode is set
            if member is None or member.kind == "dir":
                writer.dir_mode(path, _name(path, member), member.mode if member is not None else 0)
    finally:
        writer.close()
    kinds = [_kind(member) for member in tree.values()]
    return Unpacked(kinds.count("file"), kinds.count("dir"), kinds.count("link"), writer.written)


def plan(members: Iterable[Member], label: str) -> Plan:
    """The final tree, in preorder (a directory before what it holds). Refuses unsafe names and conflicts."""
    tree: Plan = {}
    for member in members:
        path = split_name(member.name, label)
        if not path:
            continue  # the archive's own root (`./`)
        for depth in range(1, len(path)):
            parent = tree.setdefault(path[:depth], None)
            if _kind(parent) != "dir":
                raise UnpackError(
                    f"{label}: entry {member.name!r} lies under {'/'.join(path[:depth])!r}, "
                    f"which the archive makes a {_kind(parent)}",
                    "links are not followed while unpacking: put the entry at the path the link points to",
                )
        old = tree.get(path, member)
        if (_kind(old) == "dir") != (member.kind == "dir"):
            other = _kind(old) if member.kind == "dir" else member.kind
            raise UnpackError(
                f"{label}: {member.name!r} is both a directory and a {other}",
                "rebuild the archive so each path is one thing",
            )
        if member.kind == "link":
            _check_link_target(member, label)
        tree[path] = member  # a later duplicate replaces the earlier entry
    return dict(sorted(tree.items()))


def split_name(name: str, label: str) -> TreePath:
    """An entry name as names below the root: `a//./b` -> (a, b). Absolute, `..`, NUL and overlong refused."""
    if name.startswith(("/", "\\")) or "\x00" in name or ".." in name.split("/"):
        raise UnpackError(
            f"{label}: unsafe entry {name!r} (absolute path, '..' or NUL)",
            "rebuild the archive with paths relative to its root",
        )
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    sizes = [len(os.fsencode(part)) for part in parts]
    if max(sizes, default=0) > MAX_NAME_BYTES or sum(sizes) + len(sizes) > MAX_PATH_BYTES:
        raise UnpackError(
            f"{label}: entry {name[:80]!r}... has a longer name than Linux allows (255 bytes, 4,095 a path)",
            "shorten the path",
        )
    if len(parts) > MAX_DEPTH:
        raise UnpackError(
            f"{label}: entry {name[:80]!r}... is nested {len(parts)} directories deep (at most {MAX_DEPTH})",
            "flatten the archive's tree",
        )
    return parts


def _check_link_target(member: Member, label: str) -> None:
    if not member.link or "\x00" in member.link or len(os.fsencode(member.link)) > MAX_PATH_BYTES:
        raise UnpackError(
            f"{label}: link {member.name!r} has an empty, overlong or NUL-holding target",
            "replace the link with the file it points to",
        )


def check_links(tree: Plan, label: str, what: str) -> None:
    """Refuse the archive when any link in the final tree leads outside it."""
    budget = [MAX_LINK_STEPS]
    for path, member in tree.items():
        if member is not None and member.kind == "link" and leaves_root(tree, path, budget):
            raise UnpackError(
                f"{label}: link {member.name!r} -> {member.link!r} resolves outside the {what}",
                f"point the link inside the {what}, or put the file it points to in the {what} instead",
            )
        if budget[0] < 0:
            raise UnpackError(
                f"{label}: its links chain too long and too often to be checked",
                "replace the links with the files they point to",
            )


def leaves_root(tree: Plan, link: TreePath, budget: list[int] | None = None) -> bool:
    """Whether resolving `link` ever steps above the root or onto an absolute path (physically, following
    links in `tree` as the kernel would; names the tree lacks are walked lexically, which is stricter).
    `budget[0]` counts down the names walked (the caller refuses the archive when it runs out)."""
    resolved = list(link[:-1])  # the directory the walk is in
    pending: list[str] = [link[-1]]  # names still to walk, the next one last
    hops = 0
    steps = budget if budget is not None else [MAX_LINK_STEPS]
    while pending and steps[0] >= 0:
        steps[0] -= 1
        name = pending.pop()
        if name in ("", "."):
            continue
        if name == "..":
            if not resolved:
                return True
            resolved.pop()
            continue
        resolved.append(name)
        member = tree.get(tuple(resolved))
        if member is None or member.kind != "link":
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            return False  # ELOOP: the kernel gives up here, so the link reaches nothing, inside or out
        resolved.pop()
        if member.link.startswith("/"):
            return True
        pending.extend(reversed(member.link.split("/")))
    return False


def _kind(member: Member | None) -> Kind:
    return "dir" if member is None else member.kind


def _name(path: TreePath, member: Member | None) -> str:
    return member.name if member is not None else "/".join(path)


@contextlib.contextmanager
def _entry(label: str, name: str) -> Iterator[None]:
    """One filesystem step for entry `name`: an OSError becomes one line naming the entry."""
    try:
        yield
    except OSError as exc:
        raise UnpackError(
            f"{label}: cannot unpack entry {name!r}: {exc.strerror or exc}",
            "free disk space, or check the archive",
        ) from exc


class _Writer:
    """Writes the plan under `target`. Directories are opened one name at a time with O_NOFOLLOW from the
    target's own descriptor; the descriptors along the current path are kept (preorder visits keep that
    stack short: at most MAX_DEPTH)."""

    def __init__(self, target: Path, label: str, limit: int) -> None:
        self.label = label
        self.limit = limit
        self.written = 0
        root_fd = os.open(target, _DIR_FLAGS)
        self._stack: list[tuple[TreePath, int]] = [((), root_fd)]
        if os.listdir(root_fd):  # noqa: PTH208 (listing a descriptor; pathlib has no such call)
            self.close()
            raise ValueError(f"unpack needs an empty directory, and {target} is not")

    def fd(self, path: TreePath) -> int:
        """A descriptor on the directory `path` (below the target), never reached through a link."""
        while path[: len(self._stack[-1][0])] != self._stack[-1][0]:
            os.close(self._stack.pop()[1])
        while len(self._stack[-1][0]) < len(path):
            top, top_fd = self._stack[-1]
            child = path[: len(top) + 1]
            self._stack.append((child, os.open(child[-1], _DIR_FLAGS, dir_fd=top_fd)))
        return self._stack[-1][1]

    def mkdir(self, path: TreePath, name: str) -> None:
        with _entry(self.label, name):
            os.mkdir(path[-1], 0o700, dir_fd=self.fd(path[:-1]))

    def file(self, path: TreePath, member: Member) -> None:
        with _entry(self.label, member.name):
            fd = os.open(path[-1], _FILE_FLAGS, 0o600, dir_fd=self.fd(path[:-1]))
        try:
            for chunk in member.chunks() if member.chunks is not None else ():
                self.written += len(chunk)  # what is written counts, not what the archive claims
                if self.written > self.limit:
                    raise SizeLimitError(
                        f"{self.label}: unpacks to more than {self.limit / 2**20:g} MiB "
                        f"(at entry {member.name!r})",
                        "shrink the archive",
                        limit=self.limit,
                    )
                with _entry(self.label, member.name):
                    _write_all(fd, chunk)
            with _entry(self.label, member.name):
                # The permission bits recorded, without setuid, setgid or sticky; rw-r--r-- when none were.
                os.fchmod(fd, member.mode & 0o777 or 0o644)
        finally:
            os.close(fd)

    def link(self, path: TreePath, member: Member) -> None:
        with _entry(self.label, member.name):
            os.symlink(member.link, path[-1], dir_fd=self.fd(path[:-1]))

    def dir_mode(self, path: TreePath, name: str, mode: int) -> None:
        with _entry(self.label, name):
            # u+rwx whatever was recorded: coldlab must be able to remove the tree again.
            os.fchmod(self.fd(path), (mode & 0o777 or 0o755) | 0o700)

    def close(self) -> None:
        for _path, fd in reversed(self._stack):
            os.close(fd)
        self._stack.clear()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
