"""Property tests of the Kafka routers (issue 9): any bytes as key and value give a stored inbox row
with a status (and a reason unless it runs), never an exception — on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from dagster import build_sensor_context
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mm_platform.core.inbox import MAX_REASON, EventInbox, Status
from mm_platform.core.kafka import KafkaRecord
from mm_platform.core.sensors import Router, to_new_event
from mm_platform.core.sql import SqlDatabase, engine_for
from mm_platform.marathon.defs.delegated import rating_event_router
from mm_platform.marathon.defs.sensors import review_end_router
from mm_platform.marathon.dev.sample_data import SAMPLE_PROJECT_ID, SAMPLE_ROUND_ID, load_sample_data

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
offsets = itertools.count()

# any code point, lone surrogates and NUL included
texts = st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=40)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 5, max_value=10**30),
    st.floats(),  # NaN and infinities too
    texts,
    st.text(max_size=400).map(lambda s: s * 3),
    st.sampled_from(["²", "Review", "review", "END", "end", str(SAMPLE_PROJECT_ID), "\x00"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def envelope(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Envelopes close to a real event: each field either plausible or any JSON value."""
    payload = st.fixed_dictionaries(
        {name: s | json_values for name, s in fields.items()}, optional={"extra": json_values}
    )
    return st.fixed_dictionaries(
        {"payload": payload | json_values},
        optional={
            "timestamp": json_values,
            "originator": st.just("rating.calculation.service") | json_values,
        },
    )


def encodings(messages: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes | None]:
    """JSON text of the messages (ASCII-escaped or raw, lone surrogates as invalid UTF-8), or any bytes."""
    as_json = st.tuples(messages, st.booleans()).map(
        lambda m: json.dumps(m[0], ensure_ascii=m[1]).encode("utf-8", "surrogatepass")
    )
    return st.one_of(as_json, as_json, as_json, st.none(), st.binary(max_size=300))


keys = st.one_of(st.none(), st.binary(max_size=40))
headers = st.lists(st.tuples(texts, st.none() | st.binary(max_size=20)), max_size=2).map(tuple)

review_end_values = encodings(
    envelope(
        {
            "projectId": st.just(SAMPLE_PROJECT_ID),
            "phaseId": st.integers(),
            "phaseTypeName": st.just("Review"),
            "state": st.just("END"),
            "date": texts,
        }
    )
)
rating_values = encodings(
    envelope(
        {
            "roundId": st.just(SAMPLE_ROUND_ID),
            "event": st.sampled_from(["RATINGS_CALCULATION", "LOAD_CODERS"]),
            "status": st.sampled_from(["SUCCESS", "ALREADY_CALCULATED", "FAIL", "PENDING"]),
        }
    )
)


def record(topic: str, key: bytes | None, value: bytes | None, header_list: tuple) -> KafkaRecord:
    return KafkaRecord(topic, 0, next(offsets), key, value, header_list, None)


def assert_stored_with_status(inbox: EventInbox, router: Router, message: KafkaRecord) -> None:
    [stored] = inbox.record_batch([to_new_event(message, router)])
    [row] = inbox.get([stored.id])
    assert row.status in Status
    if row.status is not Status.NEW:
        assert row.reason and len(row.reason) <= MAX_REASON and "\x00" not in row.reason
    else:
        assert row.partition_key == str(SAMPLE_ROUND_ID)


@pytest.fixture
def inbox(db_url: str) -> EventInbox:
    inbox = EventInbox(engine_for(db_url))
    inbox.create_schema()
    return inbox


@pytest.fixture
def review_router(db_url: str) -> Router:
    load_sample_data(db_url)
    return review_end_router(build_sensor_context(resources={"oltp_db": SqlDatabase(url=db_url)}))


@PROPERTY_SETTINGS
@given(key=keys, value=review_end_values, header_list=headers)
def test_review_end_router_stores_any_message_with_a_status(
    inbox: EventInbox, review_router: Router, key: bytes | None, value: bytes | None, header_list: tuple
) -> None:
    assert_stored_with_status(inbox, review_router, record("autopilot", key, value, header_list))


@PROPERTY_SETTINGS
@given(key=keys, value=rating_values, header_list=headers)
@example(  # a roundId far beyond BIGINT was once accepted as a partition
    key=None,
    value=json.dumps(
        {
            "originator": "rating.calculation.service",
            "payload": {
                "roundId": -2711471334715333172789248,
                "event": "RATINGS_CALCULATION",
                "status": "SUCCESS",
            },
        }
    ).encode(),
    header_list=(),
)
def test_rating_router_stores_any_message_with_a_status(
    inbox: EventInbox, key: bytes | None, value: bytes | None, header_list: tuple
) -> None:
    router: Callable = rating_event_router(None)  # type: ignore[arg-type]
    assert_stored_with_status(inbox, router, record("ratings", key, value, header_list))
