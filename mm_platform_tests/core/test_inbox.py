from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from mm_platform.core.devstack import free_port
from mm_platform.core.inbox import EventInbox, NewEvent, Status, Verdict, event_inbox
from mm_platform.core.sql import engine_for


def event(
    offset: int,
    *,
    status: Status = Status.NEW,
    entity: str | None = "project-1",
    dedup: str | None = None,
    partition: int = 0,
    topic: str = "t",
) -> NewEvent:
    verdict = Verdict(
        status=status,
        reason=None if status is Status.NEW else f"{status.value.lower()} reason",
        event_type="review.end",
        entity_key=entity,
        dedup_key=dedup if dedup is not None else f"e{offset}",
        partition_key="990101" if status is Status.NEW else None,
    )
    return NewEvent(
        topic, partition, offset, None, {"h": "v"}, b'{"a": 1}', {"a": 1, "offset": offset}, verdict
    )


def make_inbox(db_url: str) -> EventInbox:
    inbox = EventInbox(engine_for(db_url))
    inbox.create_schema()
    return inbox


def test_record_batch_stores_each_message_once(db_url: str) -> None:
    inbox = make_inbox(db_url)
    batch = [event(0), event(1, status=Status.INVALID, dedup=""), event(2, status=Status.IGNORED, dedup="")]
    first = inbox.record_batch(batch)
    # a failed tick re-reads the same offsets: nothing is inserted twice and the ids are stable
    again = inbox.record_batch(batch)
    assert [e.id for e in first] == [e.id for e in again]
    assert [e.status for e in first] == [Status.NEW, Status.INVALID, Status.IGNORED]
    assert first[1].reason == "invalid reason"
    assert first[0].payload == {"a": 1, "offset": 0}
    assert inbox.counts() == {"NEW": 1, "INVALID": 1, "IGNORED": 1}


def test_a_row_the_database_refuses_is_stored_invalid_and_the_batch_goes_on(db_url: str) -> None:
    inbox = make_inbox(db_url)
    refused = replace(event(1, dedup="twice"), key="k\ud800\x00ey")  # neither database stores these
    batch = [event(0), refused, event(2, dedup="twice")]
    stored = inbox.record_batch(batch)  # before the fix: UnicodeEncodeError for the whole batch
    assert [e.status for e in stored] == [Status.NEW, Status.INVALID, Status.NEW]
    assert stored[1].reason.startswith("the database refused the message: UnicodeEncodeError")
    assert stored[1].key == "k?ey"
    [row] = inbox.get([stored[1].id])
    assert (row.payload, row.dedup_key, row.partition_key) == (None, None, None)
    with inbox.engine.connect() as conn:
        raw = conn.execute(select(event_inbox.c.raw_value).where(event_inbox.c.id == row.id)).scalar_one()
    assert raw == b'{"a": 1}'  # the message's bytes are kept
    assert [e.id for e in inbox.record_batch(batch)] == [e.id for e in stored]  # a re-read adds nothing


def test_an_unreachable_database_still_fails_the_batch() -> None:
    inbox = EventInbox(
        create_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/gone?connect_timeout=2")
    )
    with pytest.raises(OperationalError):
        inbox.record_batch([event(0)])


def test_a_stored_status_wins_over_a_re_read(db_url: str) -> None:
    inbox = make_inbox(db_url)
    [stored] = inbox.record_batch([event(5)])
    inbox.transition([stored.id], Status.HANDLED, None, run_id="run-1", count_attempt=True)
    [re_read] = inbox.record_batch([event(5)])
    assert re_read.status is Status.HANDLED
    assert re_read.run_id == "run-1"
    assert re_read.attempts == 1


def test_duplicate_business_events_are_ignored_with_a_reason(db_url: str) -> None:
    inbox = make_inbox(db_url)
    inbox.record_batch([event(0, dedup="same")])
    later = inbox.record_batch(
        [event(1, dedup="same"), event(2, dedup="same", partition=1), event(3, dedup="other")]
    )
    assert [e.status for e in later] == [Status.IGNORED, Status.IGNORED, Status.NEW]
    assert later[0].reason == "duplicate of the event at partition 0 offset 0"
    # duplicates inside one batch too
    inside = inbox.record_batch([event(10, dedup="x"), event(11, dedup="x")])
    assert [e.status for e in inside] == [Status.NEW, Status.IGNORED]


def test_select_pages_by_id(db_url: str) -> None:
    inbox = make_inbox(db_url)
    inbox.record_batch([event(i, status=Status.IGNORED) for i in range(7)] + [event(7)])
    pages, after = [], 0
    while True:
        page = inbox.select(statuses=[Status.IGNORED], after_id=after, limit=3)
        if not page:
            break
        pages.append([e.offset for e in page])
        after = page[-1].id
    assert pages == [[0, 1, 2], [3, 4, 5], [6]]
    assert [e.offset for e in inbox.select(statuses=[Status.NEW])] == [7]


def test_transition_can_be_limited_to_current_statuses(db_url: str) -> None:
    inbox = make_inbox(db_url)
    a, b = inbox.record_batch([event(0), event(1)])
    inbox.transition([a.id], Status.HANDLED, None)
    changed = inbox.transition(
        [a.id, b.id], Status.FAILED, "boom", only_from=[Status.NEW], count_attempt=True
    )
    assert changed == 1
    assert [(e.status, e.reason, e.attempts) for e in inbox.get([a.id, b.id])] == [
        (Status.HANDLED, None, 0),
        (Status.FAILED, "boom", 1),
    ]
    assert inbox.get([b.id])[0].last_attempted is not None


def test_replay_puts_the_newest_event_per_entity_back_to_retry(db_url: str) -> None:
    inbox = make_inbox(db_url)
    rows = inbox.record_batch(
        [
            event(0, entity="project-1"),
            event(1, entity="project-1"),
            event(2, entity="project-2"),
            event(3, entity="project-3"),
        ]
    )
    inbox.transition([r.id for r in rows[:3]], Status.HANDLED, None, count_attempt=True)
    inbox.transition([rows[3].id], Status.FAILED, "boom", count_attempt=True)
    assert inbox.replay("t", entity_keys=["project-1", "project-2"]) == 2
    by_offset = {e.offset: e for e in inbox.get(r.id for r in rows)}
    assert by_offset[0].status is Status.HANDLED  # only the newest of project-1
    assert (by_offset[1].status, by_offset[1].attempts, by_offset[1].reason) == (
        Status.RETRY,
        0,
        "replay requested",
    )
    assert by_offset[2].status is Status.RETRY
    assert by_offset[3].status is Status.FAILED
    # project-1's newest event is pending again, so its older HANDLED event is not replayed
    assert inbox.replay("t") == 1  # project-3's failed event
    assert inbox.replay("other-topic") == 0


def test_a_later_duplicate_delivery_does_not_hide_a_dead_letter_from_replay(db_url: str) -> None:
    inbox = make_inbox(db_url)
    [failed] = inbox.record_batch([event(0, entity="submission:1", dedup="submission:1")])
    inbox.transition([failed.id], Status.FAILED, "scorer exited with code 2")
    [duplicate] = inbox.record_batch([event(1, entity="submission:1", dedup="submission:1")])
    assert duplicate.status is Status.IGNORED  # the same submission delivered again
    assert inbox.replay("t", entity_keys=["submission:1"]) == 1
    assert [e.status for e in inbox.get([failed.id, duplicate.id])] == [Status.RETRY, Status.IGNORED]
