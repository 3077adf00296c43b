"""The pure rules between the topic and the processors: what the ledger keeps of a raw record
(rules/intake.py) and how a typed deltaker becomes an AmtDeltaker (rules/deltaker.py)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from mm_platform.arena.rules.codes import AmtDeltakerStatus, AmtStatusAarsak
from mm_platform.arena.rules.deltaker import DeltakerInvalid, matching, to_amt_deltaker, validate
from mm_platform.arena.rules.envelope import Operation
from mm_platform.arena.rules.intake import LedgerRecord, Rejection, read_record
from mm_platform.arena.rules.payloads import ArenaDeltaker, ArenaHistDeltaker
from mm_platform.arena.rules.tiltak import GjennomforingFlags
from mm_platform_tests.arena.samples import deltaker_payload, envelope, hist_payload, raw

DELTAKER = "SIAMO.TILTAKDELTAKER"
MR_ID = uuid.UUID("0b9d2f4a-7c1e-4d55-9f0a-3e6b8c2d1a01")


def flags(
    kode: str = "INDOPPFAG", oppstart: str = "LOPENDE", status: str | None = None
) -> GjennomforingFlags:
    return GjennomforingFlags(
        id=MR_ID, arena_kode=kode, virksomhetsnummer="1", oppstart=oppstart, status=status
    )


def test_a_readable_record_keeps_its_typed_payloads_and_drops_unknown_fields() -> None:
    before = deltaker_payload(DELTAKERSTATUSKODE="AKTUELL", UKJENT_FELT="x")
    after = deltaker_payload(DELTAKERSTATUSKODE="GJENN", PROSENT_DELTID="40")
    record = read_record(raw(envelope(DELTAKER, "U", before=before, after=after, pos=42)))
    assert isinstance(record, LedgerRecord)
    assert (record.operation, record.pos, record.arena_id) == (Operation.MODIFIED, "0" * 18 + "42", "123456")
    assert record.after is not None and record.before is not None
    assert record.after["DELTAKERSTATUSKODE"] == "GJENN" and record.after["PROSENT_DELTID"] == 40.0
    assert "UKJENT_FELT" not in record.before


def test_a_delete_reads_before_and_an_unreadable_other_side_is_dropped() -> None:
    record = read_record(raw(envelope(DELTAKER, "D", before=deltaker_payload(), after={"REG_DATO": "bad"})))
    assert isinstance(record, LedgerRecord)
    assert record.before is not None and record.after is None


@pytest.mark.parametrize(
    ("value", "reason", "table"),
    [
        (None, "empty message value (tombstone)", None),
        (b"\xff", "value is not UTF-8", None),
        (b"[1]", "value is a JSON list, not an object", None),
        (raw(envelope("SIAMO.X", "I", after={})), "unknown table 'SIAMO.X'", None),
        (raw(envelope(DELTAKER, "I", after=None)), "after is missing for op_type I", DELTAKER),
        (
            raw(envelope(DELTAKER, "I", after=deltaker_payload(REG_DATO="2022-13-01 00:00:00"))),
            "after: REG_DATO '2022-13-01 00:00:00' is not a valid date",
            DELTAKER,
        ),
        (b"[" * 100_000, "value is", None),
    ],
)
def test_an_unreadable_record_is_rejected_with_the_reason(
    value: bytes | None, reason: str, table: str | None
) -> None:
    rejection = read_record(value)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith(reason) and rejection.table == table


def test_validation_names_what_makes_a_deltaker_invalid() -> None:
    with pytest.raises(DeltakerInvalid, match="PERSON_ID mangler"):
        validate(ArenaDeltaker.from_payload(deltaker_payload(PERSON_ID=None)))
    with pytest.raises(DeltakerInvalid, match="DELTAKERSTATUSKODE 'NY'"):
        validate(ArenaDeltaker.from_payload(deltaker_payload(DELTAKERSTATUSKODE="NY")))
    with pytest.raises(DeltakerInvalid, match="AARSAKVERDIKODE_STATUS"):
        validate(ArenaHistDeltaker.from_payload(hist_payload(AARSAKVERDIKODE_STATUS="NY")))


def test_amt_deltaker_carries_converted_status_aarsak_and_the_mulighetsrommet_id() -> None:
    record = ArenaDeltaker.from_payload(
        deltaker_payload(
            DELTAKERSTATUSKODE="IKKEM", DATO_STATUSENDRING="2022-03-01 10:00:00", ANTALL_DAGER_PR_UKE=2.5
        )
    )
    deltaker = to_amt_deltaker(
        uuid.uuid4(), record, validate(record), flags(), "12345678901", dt.date(2022, 6, 1)
    )
    assert deltaker.status is AmtDeltakerStatus.HAR_SLUTTET
    assert deltaker.status_aarsak is AmtStatusAarsak.IKKE_MOTT
    assert deltaker.gjennomforing_id == MR_ID and deltaker.dager_per_uke == 2.5
    assert deltaker.innsok_begrunnelse == ""  # null BEGRUNNELSE_BESTILLING on a live deltaker


def test_kurs_gjennomforing_gives_the_kurs_statuses() -> None:
    record = ArenaDeltaker.from_payload(deltaker_payload(DELTAKERSTATUSKODE="FULLF"))
    kurs = to_amt_deltaker(
        uuid.uuid4(), record, validate(record), flags(oppstart="FELLES"), "1", dt.date(2022, 6, 1)
    )
    assert kurs.status is AmtDeltakerStatus.FULLFORT


def test_hist_matching_compares_the_three_dates_only() -> None:
    record = ArenaHistDeltaker.from_payload(hist_payload())

    class Row:
        def __init__(self, **dates: object) -> None:
            self.dato_fra = dates.get("fra", record.dato_fra)
            self.dato_til = dates.get("til", record.dato_til)
            self.dato_statusendring = dates.get("endring", record.dato_statusendring)

    same, other_day = Row(), Row(til=dt.date(2030, 1, 1))
    other_second = Row(endring=record.dato_statusendring + dt.timedelta(seconds=1))  # type: ignore[operator]
    assert matching([same, other_day, other_second], record) == [same]


def test_the_sample_envelope_round_trips_through_json() -> None:
    document = envelope(DELTAKER, "I", after=deltaker_payload())
    assert isinstance(read_record(json.dumps(document)), LedgerRecord)
