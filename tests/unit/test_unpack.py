"""The unpacker every archive reader uses: its plan, its link check, and what it writes (and never writes)."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coldlab import unpack as unpack_module
from coldlab.unpack import (
    MAX_DEPTH,
    Member,
    Plan,
    SizeLimitError,
    UnpackError,
    check_links,
    leaves_root,
    plan,
    unpack,
)


def file(name: str, data: bytes = b"", mode: int = 0o644, before: Callable[[], None] | None = None) -> Member:
    def chunks() -> Iterator[bytes]:
        if before is not None:
            before()
        yield data

    return Member(name, "file", mode, chunks=chunks)


def link(name: str, target: str) -> Member:
    return Member(name, "link", 0o777, link=target)


def tree(*links: tuple[str, str], dirs: tuple[str, ...] = ()) -> Plan:
    return plan([*(Member(d, "dir") for d in dirs), *(link(n, t) for n, t in links)], "t.zip")


@pytest.fixture
def target(tmp_path: Path) -> Path:
    (tmp_path / "target").mkdir()
    return tmp_path / "target"


@pytest.mark.parametrize(
    ("links", "leaves"),
    [
        ((("a", "b"), ("b", "c")), False),
        ((("a", "sub/../b"),), False),
        ((("a", ".."),), True),
        ((("a", "/etc"),), True),
        ((("a", "b/.."), ("b", "..")), True),  # the second link takes the first one out
        ((("a", "b/x"), ("b", "/")), True),  # an absolute target anywhere in a chain
        ((("a", "b"), ("b", "a")), False),  # a loop reaches nothing
        ((("x", "."), ("a", "x/x/x/..")), True),  # physically `..` of the root, though it reads x/x
        ((("a", "../target/b"),), True),  # out and back in is still out (the package moves to /var/task)
    ],
)
def test_a_link_leaves_the_root_when_any_step_of_its_chain_does(
    links: tuple[tuple[str, str], ...], leaves: bool
) -> None:
    assert leaves_root(tree(*links, dirs=("sub",)), ("a",)) is leaves


def test_the_issue_s_chain_leaves_through_links_to_dot() -> None:
    chain = tree(("b", "x/y/z/w"), ("a", "b/../../../.."), ("x", "."), ("y", "."), dirs=("z/", "z/w/"))
    assert leaves_root(chain, ("a",))
    assert not leaves_root(chain, ("b",))


def test_a_path_under_a_link_or_file_and_a_dir_over_a_file_are_refused() -> None:
    with pytest.raises(UnpackError, match="entry 'a/f' lies under 'a', which the archive makes a link"):
        plan([link("a", "."), file("a/f")], "t.zip")
    with pytest.raises(UnpackError, match="lies under 'a', which the archive makes a file"):
        plan([file("a"), file("a/f")], "t.zip")
    with pytest.raises(UnpackError, match="'a' is both a directory and a file"):
        plan([file("a/f"), file("a")], "t.zip")
    with pytest.raises(UnpackError, match="'a/' is both a directory and a link"):
        plan([link("a", "b"), Member("a/", "dir")], "t.zip")


def test_a_later_duplicate_replaces_the_earlier_entry(target: Path) -> None:
    members = [file("f", b"old"), file("./f", b"new"), link("l", "f"), file("l", b"now a file")]
    unpack(members, target, label="t.zip", max_bytes=100)
    assert (target / "f").read_bytes() == b"new"
    assert not (target / "l").is_symlink()
    assert (target / "l").read_bytes() == b"now a file"


@pytest.mark.parametrize("name", ["a/\x00b", "/abs", "a/../b", "..", "x" * 256, "a/" * (MAX_DEPTH + 1)])
def test_unsafe_or_impossible_names_are_refused(name: str) -> None:
    with pytest.raises(UnpackError):
        plan([file(name)], "t.zip")


@pytest.mark.parametrize("target_", ["", "a\x00b", "x" * 5000])
def test_empty_nul_or_overlong_link_targets_are_refused(target_: str) -> None:
    with pytest.raises(UnpackError, match="empty, overlong or NUL"):
        plan([link("l", target_)], "t.zip")


def test_modes_are_applied_last_and_special_bits_dropped(target: Path) -> None:
    members = [
        Member("ro/", "dir", 0o555),
        file("ro/f", b"x", 0o4755),
        Member("none/", "dir", 0),
        file("n/g"),
    ]
    done = unpack(members, target, label="t.zip", max_bytes=100)
    assert (target / "ro" / "f").read_bytes() == b"x"  # a read-only directory still received its file
    assert stat.S_IMODE((target / "ro").stat().st_mode) == 0o755  # u+rwx so coldlab can remove it
    assert stat.S_IMODE((target / "ro" / "f").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "none").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "n" / "g").stat().st_mode) == 0o644
    assert (done.files, done.dirs, done.links, done.bytes_written) == (2, 3, 0, 1)


def test_bytes_are_counted_as_written(target: Path) -> None:
    with pytest.raises(SizeLimitError, match="at entry 'b'") as refused:
        unpack([file("a", b"x" * 60), file("b", b"y" * 60)], target, label="t.zip", max_bytes=100)
    assert refused.value.limit == 100


def test_a_link_planted_while_unpacking_is_never_written_through(tmp_path: Path, target: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"intact")

    def plant_file_link() -> None:
        (target / "f").symlink_to(victim)

    def plant_dir_link() -> None:
        (target / "d").symlink_to(outside)

    with pytest.raises(UnpackError, match="cannot unpack entry 'f'"):
        unpack([file("a", before=plant_file_link), file("f", b"evil")], target, label="t.zip", max_bytes=100)
    (target / "a").unlink()
    (target / "f").unlink()
    members = [file("a", before=plant_dir_link), Member("d/", "dir"), file("d/victim", b"evil")]
    with pytest.raises(UnpackError, match="cannot unpack entry 'd/'"):
        unpack(members, target, label="t.zip", max_bytes=100)
    assert victim.read_bytes() == b"intact"
    assert [p.name for p in outside.iterdir()] == ["victim"]


def test_links_are_created_last_and_leading_outside_refuses_before_writing(target: Path) -> None:
    with pytest.raises(UnpackError, match=r"link 'l' -> '\.\./x' resolves outside the layer"):
        unpack([file("f"), link("l", "../x")], target, label="t.zip", max_bytes=100, what="layer")
    assert list(target.iterdir()) == []


def test_checking_links_is_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    loops = [(f"l{i}", "./" * 100 + f"l{i}") for i in range(10)]  # each loops, walking 100 names a hop
    check_links(tree(*loops), "t.zip", "package")  # the kernel's 40 hops each: 40,000 names in all
    monkeypatch.setattr(unpack_module, "MAX_LINK_STEPS", 10_000)
    with pytest.raises(UnpackError, match=r"t\.zip: its links chain too long and too often to be checked"):
        check_links(tree(*loops), "t.zip", "package")
