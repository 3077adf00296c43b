"""The published messages (spec §7): exact JSON shape, Jackson-like values, determinism."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from enum import Enum

import pytest

from mm_platform.arena.rules.envelope import Operation
from mm_platform.arena.rules.output import (
    AmtDeltaker,
    amt_envelope,
    enkeltplass_value,
    iso_datetime,
    message_key,
    serialize,
)

DELTAKER_ID = uuid.UUID("4f6a0b7e-3c1d-4e2a-9b8f-0a1b2c3d4e5f")
GJENNOMFORING_ID = uuid.UUID("9d1e2f3a-4b5c-4d6e-8f7a-1b2c3d4e5f60")
TRANSACTION_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")
NOW = datetime(2025, 11, 23, 12, 34, 56)


def _deltaker(**changes) -> AmtDeltaker:
    values = {
        "id": DELTAKER_ID,
        "gjennomforing_id": GJENNOMFORING_ID,
        "person_ident": "12345678910",
        "start_dato": date(2025, 1, 6),
        "slutt_dato": None,
        "status": "DELTAR",
        "status_aarsak": None,
        "dager_per_uke": 2.5,
        "prosent_deltid": 40,
        "registrert_dato": datetime(2024, 12, 1, 9, 30, 0),
        "status_endret_dato": datetime(2025, 1, 6, 0, 0, 0),
        "innsok_begrunnelse": "",
    }
    values.update(changes)
    return AmtDeltaker(**values)


EXPECTED_PAYLOAD = {
    "id": "4f6a0b7e-3c1d-4e2a-9b8f-0a1b2c3d4e5f",
    "gjennomforingId": "9d1e2f3a-4b5c-4d6e-8f7a-1b2c3d4e5f60",
    "personIdent": "12345678910",
    "startDato": "2025-01-06",
    "sluttDato": None,
    "status": "DELTAR",
    "statusAarsak": None,
    "dagerPerUke": 2.5,
    "prosentDeltid": 40.0,
    "registrertDato": "2024-12-01T09:30:00",
    "statusEndretDato": "2025-01-06T00:00:00",
    "innsokBegrunnelse": "",
}


def test_envelope_shape_is_exactly_the_originals():
    value = amt_envelope(_deltaker(), Operation.CREATED, TRANSACTION_ID, NOW)
    assert value == {
        "transactionId": "11111111-2222-4333-8444-555555555555",
        "source": "AMT_ARENA_ACL",
        "type": "DELTAKER",
        "timestamp": "2025-11-23T12:34:56",
        "operation": "CREATED",
        "payload": EXPECTED_PAYLOAD,
    }
    assert list(value) == ["transactionId", "source", "type", "timestamp", "operation", "payload"]
    assert list(value["payload"]) == list(EXPECTED_PAYLOAD)


def test_serialized_envelope_is_compact_json_with_nulls_and_floats():
    data = serialize(amt_envelope(_deltaker(), Operation.MODIFIED, TRANSACTION_ID, NOW))
    assert isinstance(data, bytes)
    text = data.decode("utf-8")
    assert text.startswith('{"transactionId":"11111111-2222-4333-8444-555555555555","source":"AMT_ARENA_ACL"')
    assert '"operation":"MODIFIED"' in text
    assert '"sluttDato":null' in text
    assert '"statusAarsak":null' in text
    assert '"dagerPerUke":2.5' in text
    assert '"prosentDeltid":40.0' in text
    assert " " not in text.replace("12345678910", "")
    assert json.loads(text)["payload"] == EXPECTED_PAYLOAD


def test_operation_given_as_a_name():
    assert amt_envelope(_deltaker(), "MODIFIED", TRANSACTION_ID, NOW)["operation"] == "MODIFIED"
    with pytest.raises(ValueError):
        amt_envelope(_deltaker(), "U", TRANSACTION_ID, NOW)


def test_same_inputs_give_identical_bytes():
    first = serialize(amt_envelope(_deltaker(), Operation.CREATED, TRANSACTION_ID, NOW))
    second = serialize(amt_envelope(_deltaker(), Operation.CREATED, TRANSACTION_ID, NOW))
    assert first == second


def test_enkeltplass_value_is_the_bare_deltaker_and_key_is_the_uuid():
    deltaker = _deltaker()
    assert enkeltplass_value(deltaker) == EXPECTED_PAYLOAD
    assert message_key(deltaker) == "4f6a0b7e-3c1d-4e2a-9b8f-0a1b2c3d4e5f"
    assert json.loads(serialize(enkeltplass_value(deltaker))) == EXPECTED_PAYLOAD


def test_tombstone_serializes_to_none():
    assert serialize(None) is None


class _Status(Enum):
    HAR_SLUTTET = "har sluttet"


class _Aarsak(Enum):
    FATT_JOBB = 3


def test_enums_are_written_by_name():
    payload = enkeltplass_value(_deltaker(status=_Status.HAR_SLUTTET, status_aarsak=_Aarsak.FATT_JOBB))
    assert (payload["status"], payload["statusAarsak"]) == ("HAR_SLUTTET", "FATT_JOBB")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 11, 23, 12, 34, 56), "2025-11-23T12:34:56"),
        (datetime(2025, 11, 23, 12, 34), "2025-11-23T12:34:00"),  # seconds always, unlike toString()
        (datetime(2025, 11, 23, 12, 34, 56, 120000), "2025-11-23T12:34:56.12"),
        (datetime(2025, 11, 23, 12, 34, 56, 123456), "2025-11-23T12:34:56.123456"),
        (datetime(999, 1, 2, 3, 4, 5), "0999-01-02T03:04:05"),
    ],
)
def test_datetimes_are_iso_local(moment, text):
    assert iso_datetime(moment) == text


def test_non_ascii_is_kept_as_is():
    data = serialize(enkeltplass_value(_deltaker(innsok_begrunnelse="Ønsker å lære")))
    assert "Ønsker å lære".encode() in data


def test_feilregistrert_copy_clears_the_right_fields():
    deltaker = _deltaker(status_aarsak="SYK", innsok_begrunnelse="tekst")
    feilregistrert = deltaker.as_feilregistrert()
    payload = enkeltplass_value(feilregistrert)
    assert payload == {
        **EXPECTED_PAYLOAD,
        "status": "FEILREGISTRERT",
        "statusAarsak": None,
        "dagerPerUke": None,
        "prosentDeltid": None,
        "innsokBegrunnelse": None,
    }
    assert deltaker.status == "DELTAR"  # the original is untouched
