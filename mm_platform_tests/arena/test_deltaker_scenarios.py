"""Spec §8 scenarios 4-15: the deltaker processor against the broker, PostgreSQL and the lookups
stand-in (which answers like the original's mocks: OPPFOLGING, løpende, a derived fnr per person)."""

from __future__ import annotations

import datetime as dt

from mm_platform.arena.dev.lookups_standin import derived_fnr, derived_mr_id
from mm_platform_tests.arena.flow import ArenaFlow
from mm_platform_tests.arena.samples import deltaker_payload, gjennomforing_payload

GJENNOMFORING, DELTAKER = "SIAMO.TILTAKGJENNOMFORING", "SIAMO.TILTAKDELTAKER"
GJENNOMFORING_ID, DELTAKER_ID, PERSON_ID = 3461841, 123456, 556677


def arena_date(day: dt.date) -> str:
    return f"{day.isoformat()} 00:00:00"


def with_gjennomforing(flow: ArenaFlow, **changes: object) -> None:
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=GJENNOMFORING_ID, **changes), pos=1
    )
    flow.ingest_and_run()


def today(flow: ArenaFlow) -> dt.date:
    return flow.arena.local_now().date()


def test_4_deltaker_starting_tomorrow_is_published_as_created_venter_pa_oppstart(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    start = today(flow) + dt.timedelta(days=1)
    flow.publish(
        DELTAKER,
        "I",
        deltaker_payload(
            DATO_FRA=arena_date(start),
            DATO_TIL=arena_date(start + dt.timedelta(days=30)),
            PROSENT_DELTID=40,
            ANTALL_DAGER_PR_UKE=3,
            BEGRUNNELSE_BESTILLING="Trenger oppfølging",
        ),
        pos=33,
    )
    flow.ingest_and_run()
    [(key, message)] = flow.output()
    assert message["operation"] == "CREATED" and message["source"] == "AMT_ARENA_ACL"
    assert message["type"] == "DELTAKER"
    deltaker = message["payload"]
    assert key == deltaker["id"]
    assert deltaker["status"] == "VENTER_PA_OPPSTART" and deltaker["statusAarsak"] is None
    assert deltaker["personIdent"] == derived_fnr(str(PERSON_ID))
    assert deltaker["gjennomforingId"] == derived_mr_id(str(GJENNOMFORING_ID))
    assert deltaker["startDato"] == start.isoformat()
    assert deltaker["prosentDeltid"] == 40.0 and deltaker["dagerPerUke"] == 3.0
    assert deltaker["registrertDato"] == "2022-01-11T11:00:40"
    assert deltaker["innsokBegrunnelse"] == "Trenger oppfølging"
    assert flow.status("deltaker", DELTAKER_ID) == "HANDLED"
    assert flow.output("enkeltplass") == []


def test_5_a_newer_message_waits_while_an_older_one_is_retried(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.force_answer(500, id=PERSON_ID, path_prefix="/api/ords", times=1)  # only the first lookup fails
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.publish(DELTAKER, "U", deltaker_payload(DELTAKERSTATUSKODE="FULLF"), pos=35)
    flow.ingest_and_run()
    first, second = flow.rows("deltaker", DELTAKER_ID)
    assert (first["pos"][-2:], first["status"]) == ("33", "RETRY")
    assert "500" in first["note"]
    assert (second["pos"][-2:], second["status"]) == ("35", "RETRY")
    assert second["note"] == f"Forrige melding på deltaker med id={DELTAKER_ID} er ikke håndtert enda"
    assert flow.output() == []


def test_6_deltaker_on_an_unsupported_gjennomforing_is_ignored(flow: ArenaFlow) -> None:
    with_gjennomforing(flow, TILTAKSKODE="AMO")
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.ingest_and_run()
    assert flow.status("deltaker", DELTAKER_ID) == "IGNORED"
    assert flow.output() == []


def test_7_deltaker_on_an_invalid_gjennomforing_waits(flow: ArenaFlow) -> None:
    with_gjennomforing(flow, ARBGIV_ID_ARRANGOR=None)
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.ingest_and_run()
    assert flow.status("deltaker", DELTAKER_ID) == "WAITING"
    assert flow.output() == []


def test_8_second_message_starting_yesterday_is_published_again_as_created_deltar(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    tomorrow, yesterday = today(flow) + dt.timedelta(days=1), today(flow) - dt.timedelta(days=1)
    flow.publish(DELTAKER, "I", deltaker_payload(DATO_FRA=arena_date(tomorrow), DATO_TIL=None), pos=33)
    flow.ingest_and_run()
    flow.publish(
        DELTAKER,
        "I",
        deltaker_payload(
            DATO_FRA=arena_date(yesterday),
            DATO_TIL=None,
            REG_DATO="2022-01-12 09:00:00",
            DATO_STATUSENDRING="2022-01-12 09:00:00",
        ),
        pos=34,
    )
    flow.ingest_and_run()
    (key1, first), (key2, second) = flow.output()
    assert key1 == key2  # one AMT id for the deltaker: the same partition, so amt-tiltak reads them in order
    assert (first["operation"], first["payload"]["status"]) == ("CREATED", "VENTER_PA_OPPSTART")
    assert (second["operation"], second["payload"]["status"]) == ("CREATED", "DELTAR")
    assert second["payload"]["startDato"] == yesterday.isoformat()


def test_9_person_lookup_failing_with_500_is_retried_and_publishes_nothing(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.force_answer(500, path_prefix="/api/ords")
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.ingest_and_run()
    [row] = flow.rows("deltaker", DELTAKER_ID)
    assert row["status"] == "RETRY" and row["attempts"] == 0
    assert flow.output() == []


def test_10_deltaker_id_0_is_invalid_and_publishes_nothing(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=0), pos=33)
    flow.ingest_and_run()
    assert flow.status("deltaker", 0) == "INVALID"
    # read at intake: the typed payload refuses a zero id, so no processor ever sees it
    assert flow.rows("deltaker", 0)[0]["note"] == "after: TILTAKDELTAKER_ID is 0"
    assert flow.output() == []


def test_11_dager_per_uke_keeps_its_decimals_and_the_newest_message_decides(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.publish(DELTAKER, "I", deltaker_payload(ANTALL_DAGER_PR_UKE=2), pos=33)
    flow.publish(DELTAKER, "U", deltaker_payload(ANTALL_DAGER_PR_UKE=2.5), pos=34)
    flow.ingest_and_run()
    published = [m["payload"]["dagerPerUke"] for _k, m in flow.output()]
    assert published == [2.0, 2.5]


def test_12_messages_of_one_deltaker_reach_the_topic_in_pos_order_without_a_pause(flow: ArenaFlow) -> None:
    # the original sleeps 500 ms after a recent HANDLED row so that amt-tiltak sees them in order; here
    # the outbox produces in pos order on one key (one partition), which keeps the order by itself
    with_gjennomforing(flow)
    for pos, status in ((40, "AKTUELL"), (41, "TILBUD"), (42, "GJENN")):
        flow.publish(DELTAKER, "U", deltaker_payload(DELTAKERSTATUSKODE=status), pos=pos)
    flow.ingest_and_run()
    statuses = [m["payload"]["status"] for _k, m in flow.output()]
    assert statuses == ["SOKT_INN", "HAR_SLUTTET", "HAR_SLUTTET"]
    assert len({k for k, _m in flow.output()}) == 1


def handled_deltaker(flow: ArenaFlow) -> str:
    """A deltaker published once; its AMT id."""
    with_gjennomforing(flow)
    flow.publish(DELTAKER, "I", deltaker_payload(), pos=33)
    flow.ingest_and_run()
    [(key, _message)] = flow.output()
    return key  # type: ignore[return-value]


def test_13_delete_of_a_historised_deltaker_is_handled_without_publishing(flow: ArenaFlow) -> None:
    amt_id = handled_deltaker(flow)
    with flow.store.engine.begin() as conn:
        flow.store.add_hist_translation(conn, amt_id, "9000", str(DELTAKER_ID))
    flow.publish(DELTAKER, "D", deltaker_payload(), pos=50)
    flow.ingest_and_run()
    last = flow.rows("deltaker", DELTAKER_ID)[-1]
    assert (last["status"], last["note"]) == ("HANDLED", "Slettes ikke fordi deltaker ble historisert")
    assert len(flow.output()) == 1


def test_14_delete_without_hist_translation_waits_for_the_hist_message(flow: ArenaFlow) -> None:
    handled_deltaker(flow)
    flow.publish(DELTAKER, "D", deltaker_payload(), pos=50)
    flow.ingest_and_run()
    assert flow.status("deltaker", DELTAKER_ID) == "RETRY"
    assert len(flow.output()) == 1


def test_15_delete_still_unhistorised_after_two_retries_is_published_as_feilregistrert(
    flow: ArenaFlow,
) -> None:
    handled_deltaker(flow)
    flow.publish(DELTAKER, "D", deltaker_payload(BEGRUNNELSE_BESTILLING="tekst"), pos=50)
    flow.ingest_and_run()  # live: RETRY, attempts 0
    flow.run()  # retry 1: due at once (no attempt yet) -> attempts 1
    flow.run()  # not due: the back-off waits 10 minutes after the first attempt
    assert flow.rows("deltaker", DELTAKER_ID)[-1]["attempts"] == 1
    flow.time_passes(minutes=11)
    flow.run()  # retry 2 -> attempts 2
    assert flow.rows("deltaker", DELTAKER_ID)[-1]["attempts"] == 2
    flow.time_passes(minutes=21)
    flow.run()  # attempts 2: the hist message is not coming; FEILREGISTRERT
    last = flow.rows("deltaker", DELTAKER_ID)[-1]
    assert last["status"] == "HANDLED"
    (_k, created), (_k2, deleted) = flow.output()
    assert deleted["operation"] == "MODIFIED"
    assert deleted["payload"]["status"] == "FEILREGISTRERT"
    assert deleted["payload"]["id"] == created["payload"]["id"]
    for field in ("innsokBegrunnelse", "statusAarsak", "dagerPerUke", "prosentDeltid"):
        assert deleted["payload"][field] is None
