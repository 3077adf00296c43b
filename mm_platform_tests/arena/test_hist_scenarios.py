"""Spec §8 scenarios 16-24: the hist deltaker processor. The base hist deltaker is FULLF, started three
months ago and ended two months ago; "local" deltakere come from TILTAKDELTAKER messages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mm_platform.arena.dev.lookups_standin import derived_fnr, derived_mr_id
from mm_platform_tests.arena.flow import ArenaFlow
from mm_platform_tests.arena.samples import deltaker_payload, gjennomforing_payload, hist_payload

GJENNOMFORING, DELTAKER, HIST = (
    "SIAMO.TILTAKGJENNOMFORING",
    "SIAMO.TILTAKDELTAKER",
    "SIAMO.HIST_TILTAKDELTAKER",
)
GJENNOMFORING_ID, DELTAKER_ID, HIST_ID, PERSON_ID = 3461841, 123456, 777001, 556677


def arena_date(day: dt.date) -> str:
    return f"{day.isoformat()} 00:00:00"


def dates(flow: ArenaFlow) -> dict[str, Any]:
    today = flow.arena.local_now().date()
    start, end = today - dt.timedelta(days=91), today - dt.timedelta(days=61)
    return {"DATO_FRA": arena_date(start), "DATO_TIL": arena_date(end), "DATO_STATUSENDRING": arena_date(end)}


def with_gjennomforing(flow: ArenaFlow, **changes: object) -> None:
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=GJENNOMFORING_ID, **changes), pos=1
    )
    flow.ingest_and_run()


def local_deltaker(flow: ArenaFlow) -> str:
    """The live deltaker the hist message matches (handled and published); its AMT id."""
    flow.publish(DELTAKER, "I", deltaker_payload(DELTAKERSTATUSKODE="GJENN", **dates(flow)), pos=10)
    flow.ingest_and_run()
    [(amt_id, _message)] = flow.output()
    return amt_id  # type: ignore[return-value]


def hist(flow: ArenaFlow, op_type: str = "I", **changes: Any) -> None:
    payload = hist_payload(
        HIST_TILTAKDELTAKER_ID=HIST_ID, DELTAKERSTATUSKODE="FULLF", **{**dates(flow), **changes}
    )
    flow.publish(HIST, op_type, payload, pos=20)
    flow.ingest_and_run()


def amt_tiltak_knows(flow: ArenaFlow, amt_id: str, status: str, **changes: Any) -> None:
    deltakelse = {
        "id": amt_id,
        "gjennomforing": {"id": derived_mr_id(str(GJENNOMFORING_ID))},
        "startDato": None,
        "sluttDato": None,
        "status": status,
        **changes,
    }
    flow.put_lookup("deltakelser", derived_fnr(str(PERSON_ID)), [deltakelse])


def hist_translation(flow: ArenaFlow) -> Any:
    with flow.store.engine.connect() as conn:
        return flow.store.hist_translation(conn, hist_id=str(HIST_ID))


def test_16_match_with_a_deltakelse_amt_tiltak_keeps_is_handled_without_publishing(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    amt_id = local_deltaker(flow)
    amt_tiltak_knows(flow, amt_id, "FULLFORT")
    hist(flow)
    [row] = flow.rows("hist", HIST_ID)
    assert (row["status"], row["note"]) == ("HANDLED", "Fant match? true")
    assert len(flow.output()) == 1  # only the live deltaker's own message
    translation = hist_translation(flow)
    assert (translation.amt_id, translation.arena_id) == (amt_id, str(DELTAKER_ID))


def test_17_match_that_amt_tiltak_has_as_feilregistrert_is_restored_as_modified(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    amt_id = local_deltaker(flow)
    amt_tiltak_knows(flow, amt_id, "FEILREGISTRERT")
    hist(flow)
    assert flow.status("hist", HIST_ID) == "HANDLED"
    (_k, _live), (key, restored) = flow.output()
    assert key == amt_id and restored["operation"] == "MODIFIED"
    assert restored["payload"]["status"] == "HAR_SLUTTET" and restored["payload"]["statusAarsak"] is None
    assert restored["payload"]["innsokBegrunnelse"] is None
    assert hist_translation(flow).amt_id == amt_id


def test_18_no_local_match_publishes_the_historic_deltaker_as_created(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    hist(flow)
    [row] = flow.rows("hist", HIST_ID)
    assert (row["status"], row["note"]) == ("HANDLED", "Fant match? false")
    [(key, message)] = flow.output()
    assert message["operation"] == "CREATED" and message["payload"]["status"] == "HAR_SLUTTET"
    assert key == hist_translation(flow).amt_id
    assert hist_translation(flow).arena_id is None


def test_19_a_deltakelse_on_another_gjennomforing_in_amt_tiltak_does_not_match(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    amt_tiltak_knows(flow, "5e1b1c1e-0000-4000-8000-000000000019", "FULLFORT", gjennomforing={"id": "other"})
    hist(flow)
    assert flow.status("hist", HIST_ID) == "HANDLED"
    [(_key, message)] = flow.output()
    assert message["operation"] == "CREATED"


def test_20_a_deltakelse_with_other_dates_in_amt_tiltak_does_not_match(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    amt_tiltak_knows(flow, "5e1b1c1e-0000-4000-8000-000000000020", "FULLFORT", startDato="2001-01-01")
    hist(flow)
    assert flow.status("hist", HIST_ID) == "HANDLED"
    [(_key, message)] = flow.output()
    assert message["operation"] == "CREATED"


def test_21_hist_delete_is_ignored(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    hist(flow, op_type="D")
    assert flow.status("hist", HIST_ID) == "IGNORED"
    assert flow.output() == []


def test_22_hist_deltaker_on_an_unsupported_tiltak_is_ignored(flow: ArenaFlow) -> None:
    with_gjennomforing(flow, TILTAKSKODE="AMO")
    hist(flow)
    assert flow.status("hist", HIST_ID) == "IGNORED"
    assert flow.output() == []


def test_23_hist_deltaker_on_an_invalid_gjennomforing_waits(flow: ArenaFlow) -> None:
    with_gjennomforing(flow, LOKALTNAVN=None)
    hist(flow)
    assert flow.status("hist", HIST_ID) == "WAITING"
    assert flow.output() == []


def test_24_person_lookup_failing_with_500_retries_the_hist_deltaker(flow: ArenaFlow) -> None:
    with_gjennomforing(flow)
    flow.force_answer(500, path_prefix="/api/ords")
    hist(flow)
    assert flow.status("hist", HIST_ID) == "RETRY"
    assert flow.output() == []
