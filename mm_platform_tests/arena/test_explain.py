"""explain_status end to end: JSON-shaped fields in, {status, endretDato, statusAarsak, rule} out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from mm_platform.arena.rules.explain import ExplainError, explain_status

NOW = datetime(2026, 6, 15, 10, 30)


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "arenaStatus": "GJENN",
        "deltakerRegistrertDato": "2026-05-01T09:00:00",
        "deltakerStartdato": "2026-06-01",
        "deltakerSluttdato": "2026-09-01",
        "erEnkeltplass": False,
        "datoStatusEndring": "2026-05-20T08:15:00",
        "erGjennomforingAvsluttet": False,
        "gjennomforingSluttdato": "2026-12-31",
        "gjennomforingStatus": "GJENNOMFORES",
        "deltakelseKreverGodkjenningLoep": False,
        "statusAarsakKode": None,
    }
    base.update(overrides)
    return base


def test_running_deltaker_deltar_from_its_start_date() -> None:
    assert explain_status(fields(), NOW) == {
        "status": "DELTAR",
        "endretDato": "2026-06-01T00:00:00",
        "statusAarsak": None,
        "rule": "G.deltar",
    }


def test_today_defaults_to_the_given_now_and_can_be_overridden() -> None:
    before_start = fields(today="2026-05-31")
    assert explain_status(before_start, NOW)["status"] == "VENTER_PA_OPPSTART"
    assert explain_status(fields(), datetime(2026, 5, 31, 23, 59))["rule"] == "G.venter_pa_oppstart"
    after_end = explain_status(fields(now="2026-09-02T07:00:00"), NOW)
    assert (after_end["status"], after_end["endretDato"], after_end["rule"]) == (
        "HAR_SLUTTET",
        "2026-09-01T00:00:00",
        "G.har_sluttet",
    )
    # An aware `now` from the CLI is fine: only its date is used.
    assert explain_status(fields(), datetime(2026, 6, 15, tzinfo=timezone.utc))["status"] == "DELTAR"


def test_ended_deltaker_gets_its_aarsak() -> None:
    result = explain_status(
        fields(arenaStatus="DELAVB", datoStatusEndring="2026-06-10T12:00:00", statusAarsakKode="BEGA"), NOW
    )
    assert result == {
        "status": "HAR_SLUTTET",
        "endretDato": "2026-06-10T12:00:00",
        "statusAarsak": "FATT_JOBB",
        "rule": "A.har_sluttet",
    }


def test_ended_gjennomforing_overrides_and_is_derived_from_its_status() -> None:
    ikke_aktuell = fields(
        arenaStatus="VENTELISTE",
        erGjennomforingAvsluttet=None,
        gjennomforingStatus="AVLYST",
        statusAarsakKode="SYK",
    )
    assert explain_status(ikke_aktuell, NOW) == {
        "status": "IKKE_AKTUELL",
        "endretDato": "2026-05-20T08:15:00",
        "statusAarsak": "FIKK_IKKE_PLASS",
        "rule": "post.avsluttet_not_final",
    }
    enkeltplass = fields(erEnkeltplass=True, erGjennomforingAvsluttet=True, gjennomforingStatus="AVSLUTTET")
    result = explain_status(enkeltplass, NOW)
    assert (result["status"], result["rule"]) == ("DELTAR", "post.enkeltplass_avsluttet_gjenn")


def test_kurs_deltaker_that_left_early_is_avbrutt() -> None:
    result = explain_status(
        fields(
            arenaStatus="TILBUD",
            deltakerSluttdato="2026-06-10",
            gjennomforingSluttdato="2026-06-30",
            deltakelseKreverGodkjenningLoep=True,
        ),
        NOW,
    )
    assert (result["status"], result["endretDato"], result["statusAarsak"], result["rule"]) == (
        "AVBRUTT",
        "2026-06-10T00:00:00",
        "ANNET",
        "kurs.gjennomforende.avbrutt",
    )


def test_arena_date_formats_are_accepted() -> None:
    # Arena's own "yyyy-MM-dd HH:mm:ss" for date-times, and a date-time for a date (time dropped).
    result = explain_status(
        fields(deltakerRegistrertDato="2026-05-01 09:00:00", deltakerStartdato="2026-06-01 13:00:00"), NOW
    )
    assert result["endretDato"] == "2026-06-01T00:00:00"
    feilreg = explain_status(
        fields(arenaStatus="IKKAKTUELL", datoStatusEndring="2026-05-01", deltakerStartdato=None), NOW
    )
    assert (feilreg["status"], feilreg["endretDato"], feilreg["rule"]) == (
        "FEILREGISTRERT",
        "2026-05-01T00:00:00",
        "IA.feilregistrert",
    )


def test_given_status_explains_the_aarsak_alone() -> None:
    minimal = {"arenaStatus": "IKKEM", "status": "HAR_SLUTTET", "statusAarsakKode": "SYK"}
    assert explain_status(minimal, NOW) == {
        "status": "HAR_SLUTTET",
        "endretDato": None,
        "statusAarsak": "IKKE_MOTT",
        "rule": "aarsak.ikkem",
    }
    not_final = explain_status({"arenaStatus": "GJENN", "status": "DELTAR", "statusAarsakKode": "SYK"}, NOW)
    assert (not_final["statusAarsak"], not_final["rule"]) == (None, "aarsak.not_final")


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"arenaStatus": None}, "arenaStatus", "required"),
        ({"arenaStatus": "BOGUS"}, "arenaStatus", "'BOGUS'"),
        ({"arenaStatus": "gjenn"}, "arenaStatus", "known: VENTELISTE"),
        ({"statusAarsakKode": "XYZ"}, "statusAarsakKode", "'XYZ'"),
        ({"gjennomforingStatus": "PLANLAGT"}, "gjennomforingStatus", "PLANLAGT"),
        ({"status": "DONE"}, "status", "DONE"),
        ({"deltakerRegistrertDato": None}, "deltakerRegistrertDato", "required"),
        ({"deltakerStartdato": "01.06.2026"}, "deltakerStartdato", "ISO-8601 date"),
        ({"datoStatusEndring": 20260520}, "datoStatusEndring", "ISO-8601 date-time"),
        ({"datoStatusEndring": "2026-05-20T08:15:00+02:00"}, "datoStatusEndring", "without a zone"),
        ({"deltakerSluttdato": "2026-09-01T00:00:00Z"}, "deltakerSluttdato", "without a zone"),
        ({"erEnkeltplass": "yes"}, "erEnkeltplass", "true, false or null"),
        ({"today": "2026-06-15T10:00:00"}, "today", "ISO-8601 date"),
        ({"today": "2026-06-14", "now": "2026-06-15T10:00:00"}, "today", "disagrees"),
        ({"arenastatus": "GJENN"}, "arenastatus", "unknown field"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_input_names_the_field(overrides: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(ExplainError) as caught:
        explain_status(fields(**overrides), NOW)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert fragment in str(caught.value)


def test_input_must_be_an_object() -> None:
    with pytest.raises(ExplainError, match="JSON object"):
        explain_status(["GJENN"], NOW)  # type: ignore[arg-type]


def test_explain_is_a_value_error_for_callers_that_catch_those() -> None:
    assert issubclass(ExplainError, ValueError)
    # No clock is read: the same input at another `now` only moves "today".
    later = explain_status(fields(), NOW + timedelta(days=200))
    assert later["rule"] == "G.har_sluttet"
