"""The tuning plan: memory sizes, targets, events and weighted events, validated before anything runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from coldlab.errors import EventError, UsageError
from coldlab.tune.plan import Target, build_plan, expand_weighted, parse_memory, parse_target

LOCAL = Target("local", code=Path("/nowhere"))


def test_memory_sizes_are_sorted_and_unique() -> None:
    assert parse_memory("1769, 128,256,128") == (128, 256, 1769)
    assert parse_memory("10240") == (10240,)


@pytest.mark.parametrize("text", ["127", "10241", "0", "abc", "128,1.5", "", " , "])
def test_bad_memory_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_memory(text)
    assert "--memory" in str(info.value)


def test_targets() -> None:
    assert parse_target(None, "fn/") == Target("local", code=Path("fn/"))
    assert parse_target("aws:my-fn", None) == Target("aws", function_name="my-fn")
    assert parse_target("aws:my-fn:eu-west-1", None) == Target("aws", function_name="my-fn", region="eu-west-1")
    for bad in ("aws:", "aws:bad name", "gcp:fn", "aws:fn:moon"):
        with pytest.raises(UsageError):
            parse_target(bad, None)
    with pytest.raises(UsageError):
        parse_target(None, None)


def test_plan_counts_and_dry_run_view(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"n": 1}')
    plan = build_plan(LOCAL, memory="128,1769", invocations=10, event=str(event), cold=3, arch="both")
    assert plan.events == (b'{"n": 1}',) * 10
    assert plan.cold_per_size == 3
    assert plan.total_invocations == 2 * (10 + 3)
    view = plan.as_dict()
    assert view["memory_sizes_mb"] == [128, 1769]
    assert view["architectures"] == ["x86_64", "arm64"]
    assert view["total_invocations"] == 26
    # Parallel lanes each start cold, so --parallel 4 means at least 4 cold invocations.
    assert build_plan(LOCAL, memory="128", invocations=10, parallel=4).cold_per_size == 4
    assert build_plan(LOCAL, memory="128", invocations=2, parallel=4).cold_per_size == 2
    auto = build_plan(LOCAL, memory="128", invocations=1, trim=0.1)
    assert auto.archs == () and auto.trim == 0.1  # auto: priced on the architecture measured on


def test_event_file_that_is_not_json_is_an_event_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{not json")
    with pytest.raises(EventError) as info:
        build_plan(LOCAL, memory="128", invocations=1, event=str(event))
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[", "not JSON"),
        ('{"payload": 1}', "non-empty JSON list"),
        ("[]", "non-empty JSON list"),
        ('[{"payload": {}}]', "needs both"),
        ('[{"payload": {}, "weight": 0}]', "weight 0"),
        ('[{"payload": {}, "weight": "3"}]', "weight '3'"),
    ],
)
def test_malformed_weighted_events(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "weighted.json"
    path.write_text(content)
    with pytest.raises(EventError) as info:
        build_plan(LOCAL, memory="128", invocations=10, events=path)
    assert words in str(info.value)


def test_weighted_events_split_by_weight(tmp_path: Path) -> None:
    path = tmp_path / "weighted.json"
    path.write_text(json.dumps([{"payload": {"a": 1}, "weight": 3}, {"payload": "raw", "weight": 1}]))
    plan = build_plan(LOCAL, memory="128", invocations=8, events=path)
    assert Counter(plan.events) == {b'{"a":1}': 6, b"raw": 2}
    assert plan.events[:2] != (b"raw", b"raw")  # interleaved, not in blocks


def test_weighted_events_need_one_slot_each() -> None:
    with pytest.raises(UsageError):
        expand_weighted([(b"a", 1.0), (b"b", 1.0), (b"c", 1.0)], 2)
    with pytest.raises(UsageError):
        expand_weighted([(b"a", 1000.0), (b"b", 1.0)], 3)  # b would get 0 of 3
    assert sorted(expand_weighted([(b"a", 1.0), (b"b", 1.0), (b"c", 1.0)], 4)).count(b"a") in (1, 2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "fastest"},
        {"weight": 1.5},
        {"parallel": 0},
        {"cold": -1},
        {"invocations": -1},
        {"arch": "mips"},
        {"cold_share": 2.0},
        {"trim": 0.5},
    ],
)
def test_other_bad_input(kwargs: dict[str, object]) -> None:
    options: dict[str, object] = {"memory": "128", "invocations": 5, **kwargs}
    with pytest.raises(UsageError):
        build_plan(LOCAL, **options)  # type: ignore[arg-type]
