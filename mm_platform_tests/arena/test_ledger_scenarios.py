"""Spec §8 scenario 25 (the retry job with paging) and the §10 fixes end to end: bad input is INVALID
without blocking, WAITING hist rows are re-queued, retries back off and give up, FAILED rows come back
nightly, IGNORED rows are deleted, and every output message reaches its topic exactly once."""

from __future__ import annotations

import datetime as dt
import json

from dagster import DagsterRun, DagsterRunStatus, build_schedule_context
from dagster._core.utils import make_new_run_id
from sqlalchemy import select, update

from mm_platform.arena.defs.sensors import LEDGER_JOB, arena_ignored_cleanup_job, arena_retry_schedule
from mm_platform.arena.dev.lookups_standin import derived_fnr
from mm_platform.arena.stores.ledger_store import outbox_table
from mm_platform.arena.stores.outbox import OUTBOX_HEADER
from mm_platform.core.inbox import event_inbox
from mm_platform.core.kafka import OutgoingMessage
from mm_platform_tests.arena.flow import ArenaFlow
from mm_platform_tests.arena.samples import deltaker_payload, envelope, gjennomforing_payload, hist_payload

GJENNOMFORING, DELTAKER, HIST = (
    "SIAMO.TILTAKGJENNOMFORING",
    "SIAMO.TILTAKDELTAKER",
    "SIAMO.HIST_TILTAKDELTAKER",
)
GJENNOMFORING_ID, PERSON_ID = 3461841, 556677


def with_gjennomforing(flow: ArenaFlow, pos: int = 1, **changes: object) -> None:
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=GJENNOMFORING_ID, **changes), pos=pos
    )
    flow.ingest_and_run()


def test_25_deltakere_waiting_for_their_gjennomforing_are_handled_once_it_arrives(flow: ArenaFlow) -> None:
    for i, arena_id in enumerate((9001, 9002, 9003)):
        flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=arena_id), pos=100 + i)
    flow.ingest_and_run()
    for arena_id in (9001, 9002, 9003):
        [row] = flow.rows("deltaker", arena_id)
        assert row["status"] == "RETRY"
        assert row["note"] == f"Venter på at gjennomføring med id={GJENNOMFORING_ID} skal bli håndtert"
    with_gjennomforing(flow, pos=200)  # the run pages through the RETRY rows two at a time
    assert [flow.status("deltaker", i) for i in (9001, 9002, 9003)] == ["HANDLED"] * 3
    assert len(flow.output()) == 3


def test_bad_input_is_invalid_with_its_reason_and_blocks_nothing(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    topic = flow.arena.deltaker_topic

    def message(pos: int, **changes: object) -> str:
        after = deltaker_payload(TILTAKDELTAKER_ID=pos, **changes)
        return json.dumps(envelope(DELTAKER, "I", after=after, pos=str(pos).zfill(20)))

    good = json.loads(message(5))
    flow.publish_raw(
        topic,
        b"not json",
        json.dumps({**good, "table": "SIAMO.UKJENT"}),
        json.dumps({**good, "op_type": "X"}),
        json.dumps({**good, "after": None}),
        message(1, DELTAKERSTATUSKODE=None),
        message(2, DELTAKERSTATUSKODE="NYKODE"),
        message(3, AARSAKVERDIKODE_STATUS="NYKODE"),
        message(4, BEGRUNNELSE_BESTILLING="ok\u0000"),
        message(5),
    )
    flow.ingest_and_run()
    # the topic has two partitions, so the rows are compared as a set
    rejected = {
        e.reason for e in flow.inbox.get_inbox().select(topic=topic, limit=100) if e.entity_key is None
    }
    assert {r for r in rejected if r.startswith("value is not JSON")}
    assert {
        "unknown table 'SIAMO.UKJENT'",
        "unknown op_type 'X'",
        "after is missing for op_type I",
    } <= rejected
    assert flow.status("deltaker", 1) == "INVALID"
    assert flow.rows("deltaker", 1)[0]["note"] == "after: DELTAKERSTATUSKODE is missing"
    # unknown Arena codes are INVALID with the code named (the original retried them forever, §9.3)
    assert flow.status("deltaker", 2) == "INVALID" and "NYKODE" in flow.rows("deltaker", 2)[0]["note"]
    assert (
        flow.status("deltaker", 3) == "INVALID"
        and "AARSAKVERDIKODE_STATUS" in flow.rows("deltaker", 3)[0]["note"]
    )
    # NUL characters are stripped, the rest of the message is good
    assert flow.status("deltaker", 4) == "HANDLED"
    assert flow.status("deltaker", 5) == "HANDLED"
    published = {m["payload"]["innsokBegrunnelse"] for _k, m in flow.output()}
    assert "ok" in published


def test_a_redelivered_operation_is_kept_once_and_published_once(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)  # the same table, op_type and pos again
    flow.ingest_and_run()
    statuses = sorted(e.status.value for e in flow.inbox.get_inbox().select(topic=flow.arena.deltaker_topic))
    assert statuses == ["HANDLED", "IGNORED"]
    assert len(flow.output()) == 1
    # `mm-platform replay --topic ...`: the newest row of each Arena id back to RETRY, published again
    assert flow.inbox.get_inbox().replay(flow.arena.deltaker_topic) == 1
    flow.run()
    assert sorted(row["status"] for row in flow.rows("deltaker", 123456)) == ["HANDLED", "IGNORED"]
    (key1, first), (key2, again) = flow.output()
    assert key1 == key2 and first["payload"] == again["payload"]


def test_waiting_hist_deltaker_is_requeued_when_its_gjennomforing_becomes_valid(flow: ArenaFlow) -> None:
    with_gjennomforing(flow, LOKALTNAVN=None)
    today = flow.arena.local_now().date()
    ended = f"{(today - dt.timedelta(days=30)).isoformat()} 00:00:00"
    flow.publish(
        HIST,
        "I",
        hist_payload(
            HIST_TILTAKDELTAKER_ID=4242, DELTAKERSTATUSKODE="FULLF", DATO_TIL=ended, DATO_STATUSENDRING=ended
        ),
        pos=10,
    )
    flow.ingest_and_run()
    assert flow.status("hist", 4242) == "WAITING"
    with_gjennomforing(flow, pos=20)  # now valid: the original re-queues deltaker rows only (§9.2)
    assert flow.status("hist", 4242) == "HANDLED"
    assert len(flow.output()) == 1


def test_retries_back_off_fail_after_ten_attempts_and_come_back_nightly(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.force_answer(500, path_prefix="/api/ords", times=1000)
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.ingest_and_run()
    attempts = []
    for attempt in range(12):
        flow.run()
        if attempt < 2:
            flow.run()  # a second run right away finds nothing due: the back-off holds it
        attempts.append(flow.rows("deltaker", 123456)[0]["attempts"])
        flow.time_passes(minutes=6 * 60)
    assert attempts == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10]
    [row] = flow.rows("deltaker", 123456)
    assert row["status"] == "FAILED" and "500" in row["note"]
    flow.force_answer(500, path_prefix="/api/ords", times=0)  # ORDS is back
    flow.run()  # the retry schedule leaves FAILED rows alone
    assert flow.status("deltaker", 123456) == "FAILED"
    flow.run(include_failed=True)  # the nightly run
    assert flow.status("deltaker", 123456) == "HANDLED"
    assert len(flow.output()) == 1


def test_retry_schedule_runs_only_when_something_is_due(flow: ArenaFlow) -> None:
    def evaluate():
        context = build_schedule_context(
            instance=flow.instance, resources={"inbox": flow.inbox, "arena": flow.arena}
        )
        return arena_retry_schedule.evaluate_tick(context)

    assert evaluate().skip_message == "no RETRY row is due and no NEW row waits"
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)  # no gjennomføring yet: RETRY
    flow.ingest_and_run()
    assert flow.status("deltaker", 123456) == "RETRY"
    assert len(evaluate().run_requests) == 1  # due: it has not been attempted yet
    flow.run()
    assert evaluate().skip_message is not None  # attempted now: due again in 10 minutes
    flow.time_passes(minutes=11)
    assert len(evaluate().run_requests) == 1


def test_ignored_rows_older_than_an_hour_are_deleted(flow: ArenaFlow) -> None:
    with_gjennomforing(flow, TILTAKSKODE="AMO")
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=1), pos=33)
    flow.ingest_and_run()
    with flow.store.engine.begin() as conn:  # the deltaker's row was settled two hours ago
        conn.execute(
            update(event_inbox)
            .where(event_inbox.c.entity_key == f"{DELTAKER}:1")
            .values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2))
        )
    result = arena_ignored_cleanup_job.execute_in_process(
        resources={"inbox": flow.inbox, "arena": flow.arena}, instance=flow.instance
    )
    assert result.output_for_node("delete_ignored_ledger_rows") == 1
    assert flow.rows("deltaker", 1) == []
    assert flow.status("gjennomforing", GJENNOMFORING_ID) == "IGNORED"  # settled just now: kept


def test_a_relay_that_died_after_producing_never_produces_twice(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    for i, arena_id in enumerate((1, 2, 3)):
        flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=arena_id), pos=40 + i)
    flow.ingest()
    flow.run(publish=False)  # processed: three outbox rows, nothing produced yet
    with flow.store.engine.connect() as conn:
        pending = conn.execute(select(outbox_table).order_by(outbox_table.c.id)).all()
    assert len(pending) == 3 and all(r.produced_at is None for r in pending)
    # a relay marked all three as sending, produced the first two, then died before marking them
    with flow.store.engine.begin() as conn:
        conn.execute(update(outbox_table).values(sending_at=dt.datetime.now(dt.timezone.utc)))
    flow.kafka.produce_messages(
        flow.arena.amt_topic,
        [OutgoingMessage(r.message_key, r.value, {OUTBOX_HEADER: str(r.id)}) for r in pending[:2]],
    )
    metadata = flow.run()
    assert metadata["messages to publish"] == 0
    keys = [k for k, _m in flow.output()]
    assert sorted(keys) == sorted(r.message_key for r in pending)  # each exactly once
    with flow.store.engine.connect() as conn:
        assert all(r.produced_at is not None for r in conn.execute(select(outbox_table)))


def test_deltaker_from_another_system_is_external_source(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    ekstern = "7d5f0c1e-1111-4222-8333-944455556666"
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=61, EKSTERN_ID=ekstern), pos=33)
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=62, EKSTERN_ID=ekstern), pos=34)
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=63, DELTAKERTYPEKODE="EKSTERN"), pos=35)
    flow.ingest_and_run()
    assert flow.status("deltaker", 61) == "EXTERNAL_SOURCE"
    assert flow.status("deltaker", 62) == "INVALID"  # the id belongs to deltaker 61
    assert flow.status("deltaker", 63) == "EXTERNAL_SOURCE"
    with flow.store.engine.connect() as conn:
        assert flow.store.translation_of(conn, ekstern) == (DELTAKER, "61")
    assert flow.output() == []


def test_enkeltplass_deltaker_goes_bare_to_the_enkeltplass_topic(flow: ArenaFlow) -> None:
    flow.put_lookup(
        "gjennomforing", GJENNOMFORING_ID, {"tiltakskode": "ENKELTPLASS_ARBEIDSMARKEDSOPPLAERING"}
    )
    with_gjennomforing(flow, TILTAKSKODE="ENKELAMO")
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.ingest_and_run()
    [(key, deltaker)] = flow.output("enkeltplass")
    assert key == deltaker["id"] and "operation" not in deltaker
    assert deltaker["status"] == "FULLFORT"  # GJENN, ended in 2020; enkeltplass takes the kurs statuses
    assert flow.output() == []


def test_a_row_failing_inside_a_page_costs_only_itself(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.force_answer(500, id=7002, path_prefix="/api/ords", times=1)  # B's person lookup fails once
    for pos, (arena_id, person_id) in enumerate(((71, 7001), (72, 7002), (73, 7003)), start=50):
        flow.publish(
            DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=arena_id, PERSON_ID=person_id), pos=pos
        )
    metadata = flow.ingest_and_run()  # pages of two: [A, B] is rolled back at B, A redone alone
    assert [flow.status("deltaker", i) for i in (71, 72, 73)] == ["HANDLED", "RETRY", "HANDLED"]
    assert "500" in flow.rows("deltaker", 72)[0]["note"]
    assert (metadata["settled handled"], metadata["settled retry"]) == (2, 1)
    assert sorted(m["payload"]["personIdent"] for _k, m in flow.output()) == sorted(
        derived_fnr(str(p)) for p in (7001, 7003)
    )  # A once, although its first attempt was rolled back with the page


def test_one_waiting_ledger_run_is_enough(flow: ArenaFlow) -> None:
    """During a replay the sensor stores thousands of messages a tick; while a ledger run waits in the
    queue (it will process them all) no second one is asked for, by the sensor or the schedule."""
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    assert flow.ingest() == 1
    # a run not started yet (as one in the queue: QUEUED records need a code location origin)
    queued = DagsterRun(job_name=LEDGER_JOB, run_id=make_new_run_id(), status=DagsterRunStatus.NOT_STARTED)
    flow.instance.add_run(queued)
    flow.publish(DELTAKER, "U", deltaker_payload(), pos=34)
    assert flow.ingest() == 0
    context = build_schedule_context(
        instance=flow.instance, resources={"inbox": flow.inbox, "arena": flow.arena}
    )
    assert "waiting to start" in arena_retry_schedule.evaluate_tick(context).skip_message
    flow.instance.report_run_canceled(queued)
    flow.publish(DELTAKER, "U", deltaker_payload(), pos=35)
    assert flow.ingest() == 1
