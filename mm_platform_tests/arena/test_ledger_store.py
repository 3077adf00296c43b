"""The original's repository tests (spec §8) against the ledger store, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from mm_platform.arena.defs.sensors import to_ledger_event
from mm_platform.arena.rules.envelope import TILTAKDELTAKER_TABLE
from mm_platform.arena.rules.ledger import ArenaStatus
from mm_platform.arena.rules.payloads import ArenaDeltaker
from mm_platform.arena.stores.ledger_store import ArenaStore, deltaker_table
from mm_platform.core.inbox import EventInbox
from mm_platform.core.kafka import KafkaRecord
from mm_platform.core.sql import engine_for
from mm_platform_tests.arena.samples import deltaker_payload, envelope

TOPIC = "arena.deltaker"


@pytest.fixture
def store(db_url: str) -> ArenaStore:
    store = ArenaStore(engine_for(db_url))
    store.create_schema()
    return store


def ingest(store: ArenaStore, *documents: dict) -> list[int]:
    records = [
        KafkaRecord(TOPIC, 0, i, None, json.dumps(d).encode(), (), None) for i, d in enumerate(documents)
    ]
    stored = EventInbox(store.engine).record_batch([to_ledger_event(r) for r in records])
    return [e.id for e in stored]


def deltaker(arena_id: int, pos: int, op_type: str = "I", **changes: object) -> dict:
    side = "before" if op_type == "D" else "after"
    return envelope(
        TILTAKDELTAKER_TABLE,
        op_type,
        pos=str(pos),
        **{side: deltaker_payload(TILTAKDELTAKER_ID=arena_id, **changes)},
    )


def test_settle_changes_status_and_note_and_keeps_the_row(store: ArenaStore) -> None:
    [ledger_id] = ingest(store, deltaker(1, 10))
    with store.engine.begin() as conn:
        store.settle(conn, ledger_id, ArenaStatus.RETRY, "venter", attempts=3, attempted=True)
    [entry], _ = store.page(TOPIC, [ArenaStatus.RETRY], "", 10)
    assert (entry.id, entry.status, entry.note, entry.attempts) == (ledger_id, ArenaStatus.RETRY, "venter", 3)
    assert entry.last_attempted is not None and entry.pos == "10".zfill(20)


def test_ignored_rows_are_deleted_and_the_others_kept(store: ArenaStore) -> None:
    ids = ingest(store, deltaker(1, 10), deltaker(2, 11), deltaker(3, 12))
    with store.engine.begin() as conn:
        store.settle(conn, ids[0], ArenaStatus.IGNORED, None)
        store.settle(conn, ids[1], ArenaStatus.IGNORED, None)
    assert store.delete_ignored([TOPIC], dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)) == 2
    assert store.status_counts([TOPIC]) == {TOPIC: {"NEW": 1}}


def test_waiting_rows_of_a_gjennomforing_go_back_to_retry(store: ArenaStore) -> None:
    ids = ingest(store, deltaker(1, 10, TILTAKGJENNOMFORING_ID=7), deltaker(2, 11, TILTAKGJENNOMFORING_ID=8))
    with store.engine.begin() as conn:
        for ledger_id in ids:
            store.settle(conn, ledger_id, ArenaStatus.WAITING, "ugyldig", attempts=4)
        assert store.requeue_waiting(conn, [TOPIC], "7") == 1
    [entry], _ = store.page(TOPIC, [ArenaStatus.RETRY], "", 10)
    assert (entry.arena_id, entry.attempts, entry.last_attempted) == ("1", 0, None)


def test_resend_takes_the_newest_row_by_pos_at_the_asked_status(store: ArenaStore) -> None:
    ids = ingest(store, deltaker(1, 12, "U"), deltaker(1, 11, "I"), deltaker(2, 13, "I"))
    with store.engine.begin() as conn:
        for ledger_id in ids:
            store.settle(conn, ledger_id, ArenaStatus.HANDLED, None, attempts=2)
    assert store.resend(TOPIC, [ArenaStatus.HANDLED], ["1"]) == 1
    [entry], _ = store.page(TOPIC, [ArenaStatus.RETRY], "", 10)
    assert (entry.id, entry.pos[-2:], entry.attempts) == (ids[0], "12", 0)


def test_translations_are_found_both_ways_and_created_once(store: ArenaStore) -> None:
    with store.engine.begin() as conn:
        amt_id = store.amt_id_or_new(conn, TILTAKDELTAKER_TABLE, "55")
        assert store.amt_id_or_new(conn, TILTAKDELTAKER_TABLE, "55") == amt_id
        assert store.translation_of(conn, str(amt_id)) == (TILTAKDELTAKER_TABLE, "55")
        store.add_hist_translation(conn, str(amt_id), "900", "55")
        store.add_hist_translation(conn, str(uuid.uuid4()), "900", None)  # the hist id is taken: ignored
        assert store.hist_translation(conn, hist_id="900").amt_id == str(amt_id)


def test_deltaker_upsert_inserts_then_updates(store: ArenaStore) -> None:
    first = ArenaDeltaker.from_payload(deltaker_payload(TILTAKDELTAKER_ID=5, DELTAKERSTATUSKODE="AKTUELL"))
    second = ArenaDeltaker.from_payload(deltaker_payload(TILTAKDELTAKER_ID=5, DELTAKERSTATUSKODE="GJENN"))
    with store.engine.begin() as conn:
        store.upsert_deltaker(conn, first)
        store.upsert_deltaker(conn, second)
        rows = conn.execute(deltaker_table.select()).all()
    assert [(r.arena_id, r.status) for r in rows] == [("5", "GJENN")]


def test_gjennomforing_upsert_keeps_the_first_tiltakskode_and_updates_validity_and_mr_id(
    store: ArenaStore,
) -> None:
    mr_id = uuid.uuid4()
    with store.engine.begin() as conn:
        store.upsert_gjennomforing(conn, "7", "INDOPPFAG", False)
        store.upsert_gjennomforing(conn, "8", "ARBFORB", True)
        store.upsert_gjennomforing(conn, "7", "GRUPPEAMO", True)
        store.set_mr_id(conn, "7", mr_id)
        known = store.gjennomforing(conn, "7")
        assert store.gjennomforing(conn, "9") is None
    assert (known.tiltak_kode, known.is_valid, known.mr_id) == ("INDOPPFAG", True, mr_id)
