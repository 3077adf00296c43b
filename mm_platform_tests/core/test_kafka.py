from __future__ import annotations

import json

import pytest

from mm_platform.core.devstack import free_port
from mm_platform.core.kafka import KafkaResource, KafkaUnavailableError


def test_consume_batch_reads_from_explicit_offsets_and_returns_next_offsets(
    kafka: KafkaResource, topic: str
) -> None:
    kafka.produce(topic, [json.dumps({"i": i}) for i in range(30)], key="same-key")  # one partition
    records, offsets = kafka.consume_batch([topic], {}, max_messages=1000, max_seconds=10)
    assert [json.loads(r.value)["i"] for r in records] == list(range(30))
    partition = records[0].partition
    assert offsets[topic][partition] == 30
    assert set(offsets[topic]) == {0, 1, 2}  # empty partitions are discovered too, at offset 0

    more, after = kafka.consume_batch([topic], offsets, max_messages=1000, max_seconds=5)
    assert more == [] and after == offsets

    part, offsets_part = kafka.consume_batch(
        [topic], {topic: {partition: 25}}, max_messages=1000, max_seconds=5
    )
    assert [r.offset for r in part] == [25, 26, 27, 28, 29]
    assert offsets_part[topic][partition] == 30


def test_consume_batch_is_bounded_by_count(kafka: KafkaResource, topic: str) -> None:
    kafka.produce(topic, [b"{}"] * 50, key=b"k")
    first, offsets = kafka.consume_batch([topic], {}, max_messages=20, max_seconds=10)
    assert len(first) == 20
    rest, offsets = kafka.consume_batch([topic], offsets, max_messages=1000, max_seconds=10)
    assert len(rest) == 30
    assert sorted(r.offset for r in first + rest) == list(range(50))


def test_keys_headers_and_raw_bytes_survive(kafka: KafkaResource, topic: str) -> None:
    kafka.produce(topic, [b"\xff\xfe not utf-8"], key="k1")
    [record], _ = kafka.consume_batch([topic], {}, max_messages=10, max_seconds=5)
    assert record.key == b"k1"
    assert record.value == b"\xff\xfe not utf-8"


def test_missing_topic_has_no_partitions(kafka: KafkaResource) -> None:
    assert kafka.partitions("no.such.topic.abc") == []
    records, offsets = kafka.consume_batch(["no.such.topic.abc"], {}, max_messages=10, max_seconds=2)
    assert records == [] and offsets == {"no.such.topic.abc": {}}


def test_broker_down_is_a_clear_error() -> None:
    down = KafkaResource(bootstrap_servers=f"127.0.0.1:{free_port()}", request_timeout_seconds=2)
    with pytest.raises(KafkaUnavailableError, match="unreachable"):
        down.consume_batch(["t"], {}, max_messages=10, max_seconds=2)
    with pytest.raises(KafkaUnavailableError):
        down.produce("t", [b"{}"])


def test_create_topics_only_creates_missing_ones(kafka: KafkaResource) -> None:
    name = f"test.create.{free_port()}"
    assert kafka.create_topics({name: 2}) == [name]
    assert kafka.create_topics({name: 2}) == []
    assert kafka.partitions(name) == [0, 1]


def test_new_partitions_can_start_at_the_end(kafka: KafkaResource, topic: str) -> None:
    for _ in range(3):  # one produce each: Tansu's watermark lags only within a batch
        kafka.produce(topic, [b'{"old": 1}'], key="k")
    latest = KafkaResource(bootstrap_servers=kafka.bootstrap_servers, start_from="latest")
    skipped, offsets = latest.consume_batch([topic], {}, max_messages=100, max_seconds=5)
    assert skipped == []
    assert sum(offsets[topic].values()) == 3
    kafka.produce(topic, [b'{"new": 1}'], key="k")
    [fresh], _ = latest.consume_batch([topic], offsets, max_messages=100, max_seconds=5)
    assert fresh.value == b'{"new": 1}'
