"""Telemetry subscriptions against the reference's bounds, and the buffer: batches by size and age, drops
counted and reported as platform.logsDropped, never more than one batch held."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coldlab.runtime.telemetry import (
    Buffering,
    SubscriptionError,
    TelemetryBuffer,
    parse_subscription,
    record,
)


def body(**overrides: object) -> bytes:
    doc: dict[str, object] = {
        "schemaVersion": "2022-12-13",
        "types": ["platform", "function"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100},
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:8080/telemetry"},
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_a_subscription_points_at_loopback_with_its_buffering() -> None:
    sub = parse_subscription("ext", body())
    assert sub.url == "http://127.0.0.1:8080/telemetry"
    assert sub.types == ("platform", "function")
    assert sub.buffering == Buffering(1000, 262144, 100)


def test_defaults_are_rie_s() -> None:
    sub = parse_subscription("ext", body(buffering=None))
    assert sub.buffering == Buffering(10_000, 262_144, 1_000)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"types": []}, "types should not be empty"),
        ({"types": ["metrics"]}, "'metrics' is not one of"),
        ({"buffering": {"maxItems": 999}}, "maxItems must be an integer from 1000 to 10000"),
        ({"buffering": {"maxBytes": 2_000_000}}, "maxBytes must be an integer from 262144 to 1048576"),
        ({"buffering": {"timeoutMs": 24}}, "timeoutMs must be an integer from 25 to 30000"),
        (
            {"destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain"}},
            "URI port is not provided",
        ),
        ({"destination": {"protocol": "HTTP", "URI": "http://sandbox:9001"}}, "reserved"),
        ({"destination": {"protocol": "HTTP", "URI": "http://example.com:80"}}, "inside the environment"),
        ({"destination": {"protocol": "HTTP", "URI": "https://sandbox:8080"}}, "HTTPS"),
        ({"destination": {"protocol": "TCP", "port": 9999}}, "HTTP only"),
        ({"schemaVersion": "2019-01-01"}, "schemaVersion"),
    ],
)
def test_bad_subscriptions_are_refused_with_a_reason(overrides: dict[str, object], words: str) -> None:
    with pytest.raises(SubscriptionError) as caught:
        parse_subscription("ext", body(**overrides))
    assert words in caught.value.message


def line(n: int, size: int = 10) -> str:
    return record("2024-01-01T00:00:00.000Z", "function", "x" * size + str(n))


def test_a_batch_is_due_when_full_or_old_enough() -> None:
    buffer = TelemetryBuffer(Buffering(1000, 262144, 100))
    buffer.add(line(0), now_ms=0)
    assert not buffer.due(99)
    assert buffer.due(100)
    batch = buffer.take("t")
    assert batch is not None and json.loads(batch.body())[0]["record"].endswith("0")
    assert buffer.take("t") is None
    for n in range(1000):
        buffer.add(line(n), now_ms=0)
    assert buffer.due(0)  # maxItems reached


def test_what_overflows_one_batch_is_dropped_and_reported_first_in_the_next() -> None:
    buffer = TelemetryBuffer(Buffering(1000, 262144, 25))
    for n in range(1500):
        buffer.add(line(n), now_ms=0)
    assert len(buffer.items) == 1000 and buffer.dropped_records == 500
    batch = buffer.take("t")
    assert batch is not None
    first = json.loads(batch.records[0])
    assert first["type"] == "platform.logsDropped"
    assert first["record"]["droppedRecords"] == 500
    assert first["record"]["droppedBytes"] == sum(len(line(n).encode()) for n in range(1000, 1500))
    assert first["record"]["reason"]
    assert len(batch.records) == 1001


def test_a_failed_delivery_counts_its_records_as_dropped_and_keeps_earlier_counts() -> None:
    buffer = TelemetryBuffer(Buffering(1000, 262144, 25))
    for n in range(1001):
        buffer.add(line(n), now_ms=0)
    lost = buffer.take("t")
    assert lost is not None
    buffer.give_back(lost)
    assert buffer.dropped_records == 1001  # 1 overflow + 1000 in the lost batch
    after = buffer.take("t")
    assert after is not None and json.loads(after.records[0])["record"]["droppedRecords"] == 1001


@given(st.lists(st.integers(min_value=1, max_value=5000), max_size=300))
def test_the_buffer_never_holds_more_than_one_batch(sizes: list[int]) -> None:
    buffering = Buffering(1000, 262144, 25)
    buffer = TelemetryBuffer(buffering)
    for n, size in enumerate(sizes):
        buffer.add(line(n, size), now_ms=0)
        assert len(buffer.items) <= buffering.max_items
        assert buffer.size <= buffering.max_bytes or len(buffer.items) == 1
    kept = len(buffer.items)
    assert kept + buffer.dropped_records == len(sizes)
