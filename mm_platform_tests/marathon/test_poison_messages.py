"""Poison messages on the Kafka topics (issue 9, item 1): whatever one message does wrong, it is
stored INVALID (or routed) with a short reason, the tick succeeds, the cursor advances and the next
good message on the topic still runs. Real broker, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import build_sensor_context, instance_for_test

from mm_platform.core.inbox import EventInbox, InboxEvent, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sensors import KafkaCursor
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, review_end_event
from mm_platform_tests.marathon.test_review_end_sensor import Platform, open_platform

MAX_REASON = 500


def review_end_with(**fields: object) -> dict:
    event = review_end_event(phase_id=7)
    event["payload"].update(fields)
    return event


def encoded(value: dict | str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8", "surrogatepass")


# (name, key, value, statuses the message may end in); INVALID alone: the message is bad everywhere
POISONS: list[tuple[str, bytes, bytes, set[Status]]] = [
    ("deep nesting", b"k", b'{"payload": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", {Status.INVALID}),
    ("5,000-digit number", b"k", b'{"payload": {"projectId": 1' + b"0" * 4999 + b"}}", {Status.INVALID}),
    ("superscript two", b"k", encoded(review_end_with(projectId="\u00b2")), {Status.INVALID}),
    ("lone surrogate escape", b"k", encoded(review_end_with(phaseTypeName="\ud800")), {Status.INVALID}),
    ("lone surrogate bytes", b"k", b'{"payload": {"phaseTypeName": "\xed\xa0\x80"}}', {Status.INVALID}),
    # SQLite cannot bind it (INVALID); PostgreSQL compares it and finds no project (RETRY)
    ("projectId 10^20", b"k", encoded(review_end_with(projectId=10**20)), {Status.INVALID, Status.RETRY}),
    (
        "150-char phase",
        b"k",
        encoded(review_end_with(phaseTypeName="P" * 150)),
        {Status.INVALID, Status.IGNORED},
    ),
    (
        "400-char date",
        b"k",
        encoded(review_end_with(date="2" * 400, phaseId=8)),
        {Status.INVALID, Status.NEW},
    ),
    ("NUL in the key", b"auto\x00pilot", encoded(review_end_with(phaseId=9)), {Status.INVALID, Status.NEW}),
    (
        "NUL in a field",
        b"k",
        encoded(review_end_with(phaseTypeName="Rev\x00iew")),
        {Status.INVALID, Status.IGNORED},
    ),
    (
        "NaN",
        b"k",
        b'{"payload": {"projectId": 30005000, "phaseTypeName": "Review", "state": "END", "x": NaN}}',
        {Status.INVALID},
    ),
]


@pytest.fixture
def platform(kafka: KafkaResource, db_url: str, tmp_path: Path) -> Iterator[Platform]:
    """The code location on a one-partition topic (messages keep their order whatever their key)."""
    topic = f"test.poison.{uuid.uuid4().hex[:8]}"
    kafka.create_topics({topic: 1})
    with open_platform(kafka, topic, db_url, tmp_path) as platform:
        yield platform


def assert_short_clean_reason(event: InboxEvent) -> None:
    assert event.reason, f"{event.status} without a reason"
    assert len(event.reason) <= MAX_REASON and "\x00" not in event.reason
    event.reason.encode("utf-8")  # no lone surrogates


@pytest.mark.parametrize(("key", "value", "allowed"), [p[1:] for p in POISONS], ids=[p[0] for p in POISONS])
def test_a_poison_message_does_not_stall_the_topic(
    platform: Platform, key: bytes, value: bytes, allowed: set[Status]
) -> None:
    platform.kafka.produce(platform.topic, [value], key=key)
    platform.publish(review_end_event())

    result = platform.tick()  # before the fix: the tick raised and kept its cursor

    poison, good = platform.events()
    assert poison.status in allowed, (poison.status, poison.reason)
    if poison.status is not Status.NEW:
        assert_short_clean_reason(poison)
    assert good.status is Status.NEW
    assert [r.partition_key for r in result.run_requests] == [str(SAMPLE_ROUND_ID)]
    assert KafkaCursor.parse(platform.cursor).offsets[platform.topic] == {0: 2}


def test_poison_messages_in_one_batch_are_invalid_and_the_next_good_message_runs(platform: Platform) -> None:
    for _, key, value, _ in POISONS:
        platform.kafka.produce(platform.topic, [value], key=key)
    platform.publish(review_end_event())

    result = platform.tick()  # before the fix: the tick raised and kept its cursor

    events = platform.events()
    assert len(events) == len(POISONS) + 1
    for (name, _, _, allowed), event in zip(POISONS, events, strict=False):
        assert event.status in allowed, (name, event.status, event.reason)
        if event.status is not Status.NEW:
            assert_short_clean_reason(event)
    assert events[-1].status is Status.NEW
    assert [r.partition_key for r in result.run_requests] == [str(SAMPLE_ROUND_ID)]
    assert KafkaCursor.parse(platform.cursor).offsets[platform.topic] == {0: len(POISONS) + 1}

    # the cursor moved on: the next tick reads only what comes next
    platform.publish(review_end_event(phase_id=1234))
    platform.tick()
    assert [e.status for e in platform.events()[len(POISONS) + 1 :]] == [Status.NEW]


def rating_event(**payload: object) -> dict:
    return {
        "topic": "notification.rating.calculation",
        "originator": "rating.calculation.service",
        "timestamp": "2024-03-29T02:00:00Z",
        "payload": {
            "roundId": SAMPLE_ROUND_ID,
            "event": "RATINGS_CALCULATION",
            "status": "SUCCESS",
            **payload,
        },
    }


RATING_POISONS: list[tuple[str, bytes]] = [
    (
        "roundId Infinity",
        b'{"originator": "rating.calculation.service", "payload": {"roundId": Infinity, '
        b'"event": "RATINGS_CALCULATION", "status": "SUCCESS"}}',
    ),
    (
        "roundId 1e400",
        b'{"originator": "rating.calculation.service", "payload": {"roundId": 1e400, '
        b'"event": "RATINGS_CALCULATION", "status": "SUCCESS"}}',
    ),
    ("roundId superscript", encoded(rating_event(roundId="\u00b2"))),
    ("status NUL", encoded(rating_event(status="SUC\x00CESS"))),
    ("deep nesting", b"[" * 200_000 + b"]" * 200_000),
]


@pytest.fixture
def ratings(
    kafka: KafkaResource, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], object]]:
    topic = f"test.ratings.{uuid.uuid4().hex[:8]}"
    kafka.create_topics({topic: 1})
    monkeypatch.setenv("MM_PLATFORM_RATINGS_SERVICE_TOKEN", "token")
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "MM_PLATFORM_TOPIC_RATING_CALCULATION": topic,
            "MM_PLATFORM_PLATFORM_DB_URL": db_url,
            "MM_PLATFORM_RATINGS_MODE": "delegated",
            "MM_PLATFORM_RATINGS_SERVICE_URL": "http://127.0.0.1:1/v5",
        }
    )
    defs = build_definitions(settings)
    with instance_for_test() as instance:
        # inside the instance: building the repository resolves Dagster's state storage through it
        sensor = defs.get_repository_def().get_sensor_def("marathon_rating_calculation_sensor")

        def tick():
            context = build_sensor_context(
                instance=instance, resources=defs.resources, definitions=defs, cursor=None
            )
            return sensor.evaluate_tick(context)

        tick.topic = topic  # type: ignore[attr-defined]
        yield tick


def test_rating_poison_messages_are_invalid_and_the_report_still_comes(
    ratings: Callable[[], object], kafka: KafkaResource, db_url: str
) -> None:
    topic = ratings.topic  # type: ignore[attr-defined]
    kafka.produce(topic, [value for _, value in RATING_POISONS] + [encoded(rating_event())])

    result = ratings()  # before the fix: OverflowError from int(inf), the tick kept its cursor

    inbox = EventInbox(engine_for(db_url))
    events = inbox.select(topic=topic)
    assert [e.status for e in events] == [Status.INVALID] * len(RATING_POISONS) + [Status.NEW]
    for event in events[:-1]:
        assert_short_clean_reason(event)
    [materialization] = result.asset_events
    assert materialization.partition == str(SAMPLE_ROUND_ID)
    assert KafkaCursor.parse(result.cursor).offsets[topic] == {0: len(RATING_POISONS) + 1}
