"""Typed Arena payloads (spec §1, §4.1, §5.3, §6.4, §11.3-4) and their ledger JSON (§2.1)."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
    parse_arena_message,
)
from mm_platform.arena.rules.payloads import (
    ArenaDeltaker,
    ArenaGjennomforing,
    ArenaHistDeltaker,
    ArenaPayloadError,
    ledger_json,
    parse_payload,
    to_ledger_json,
)
from mm_platform_tests.arena.samples import (
    deltaker_payload,
    envelope,
    gjennomforing_payload,
    hist_payload,
    raw,
)


def _error(reader, payload) -> ArenaPayloadError:
    with pytest.raises(ArenaPayloadError) as caught:
        reader(payload)
    assert isinstance(caught.value, ValueError)
    return caught.value


# ---- deltaker -----------------------------------------------------------------------------------------


def test_deltaker_sample_is_typed():
    deltaker = ArenaDeltaker.from_payload(deltaker_payload())
    assert deltaker.tiltakdeltaker_id == 123456
    assert deltaker.arena_id == "123456"
    assert deltaker.person_id == 556677
    assert deltaker.tiltakgjennomforing_id == 3461841
    assert deltaker.deltakerstatuskode == "GJENN"
    assert deltaker.deltakertypekode == "INNSOKT"
    assert deltaker.dato_fra == date(2020, 3, 2)
    assert deltaker.dato_til == date(2020, 12, 31)
    assert deltaker.reg_dato == datetime(2022, 1, 11, 11, 0, 40)
    assert deltaker.mod_dato == datetime(2022, 1, 11, 11, 0, 40)
    assert deltaker.dato_statusendring == datetime(2022, 1, 11, 11, 0, 40)
    assert deltaker.prosent_deltid == 40.0
    assert isinstance(deltaker.prosent_deltid, float)
    assert deltaker.antall_dager_pr_uke is None
    assert deltaker.ekstern_id is None


def test_date_columns_drop_the_time_and_datetime_columns_keep_it():
    deltaker = ArenaDeltaker.from_payload(
        deltaker_payload(DATO_FRA="2024-05-06 13:14:15", DATO_STATUSENDRING="2024-05-06 13:14:15")
    )
    assert deltaker.dato_fra == date(2024, 5, 6)
    assert type(deltaker.dato_fra) is date
    assert deltaker.dato_statusendring == datetime(2024, 5, 6, 13, 14, 15)


def test_half_days_per_week_are_kept():
    deltaker = ArenaDeltaker.from_payload(deltaker_payload(ANTALL_DAGER_PR_UKE=2.5, PROSENT_DELTID=50.5))
    assert deltaker.antall_dager_pr_uke == 2.5
    assert deltaker.prosent_deltid == 50.5


def test_null_begrunnelse_bestilling_becomes_empty_for_a_deltaker_but_not_for_hist():
    assert ArenaDeltaker.from_payload(deltaker_payload()).begrunnelse_bestilling == ""
    assert ArenaHistDeltaker.from_payload(hist_payload()).begrunnelse_bestilling is None
    given = ArenaDeltaker.from_payload(deltaker_payload(BEGRUNNELSE_BESTILLING="Trenger kurs"))
    assert given.begrunnelse_bestilling == "Trenger kurs"


def test_optional_columns_may_be_absent():
    minimal = {
        "TILTAKDELTAKER_ID": 5,
        "TILTAKGJENNOMFORING_ID": 6,
        "DELTAKERSTATUSKODE": "AKTUELL",
        "REG_DATO": "2022-01-11 11:00:40",
        "MOD_DATO": "2022-01-11 11:00:40",
        "BRUKERID_STATUSENDRING": "USR1234",
        "AKTIVITET_ID": 7,
    }
    deltaker = ArenaDeltaker.from_payload(minimal)
    assert (deltaker.person_id, deltaker.dato_fra, deltaker.dato_statusendring) == (None, None, None)


@pytest.mark.parametrize(
    "name",
    [
        "TILTAKDELTAKER_ID",
        "TILTAKGJENNOMFORING_ID",
        "DELTAKERSTATUSKODE",
        "REG_DATO",
        "MOD_DATO",
        "BRUKERID_STATUSENDRING",
        "AKTIVITET_ID",
    ],
)
@pytest.mark.parametrize("how", ["absent", "null"])
def test_required_deltaker_fields_are_named(name, how):
    payload = deltaker_payload()
    if how == "absent":
        del payload[name]
    else:
        payload[name] = None
    error = _error(ArenaDeltaker.from_payload, payload)
    assert error.field == name
    assert str(error) == f"{name} is missing"


@pytest.mark.parametrize(
    "name",
    [
        "HIST_TILTAKDELTAKER_ID",
        "TILTAKGJENNOMFORING_ID",
        "DELTAKERSTATUSKODE",
        "REG_DATO",
        "MOD_DATO",
        "BRUKERID_STATUSENDRING",
        "AKTIVITET_ID",
    ],
)
def test_required_hist_fields_are_named(name):
    payload = hist_payload()
    del payload[name]
    assert _error(ArenaHistDeltaker.from_payload, payload).field == name


def test_zero_deltaker_id_is_invalid():
    error = _error(ArenaDeltaker.from_payload, deltaker_payload(TILTAKDELTAKER_ID=0))
    assert (error.field, str(error)) == ("TILTAKDELTAKER_ID", "TILTAKDELTAKER_ID is 0")
    assert _error(ArenaHistDeltaker.from_payload, hist_payload(HIST_TILTAKDELTAKER_ID=0)).field == (
        "HIST_TILTAKDELTAKER_ID"
    )


def test_zero_gjennomforing_id_on_a_deltaker_is_allowed_at_parse_time():
    # The gjennomføring lookup for id 0 runs first and ends RETRY (spec §11.4).
    assert ArenaDeltaker.from_payload(deltaker_payload(TILTAKGJENNOMFORING_ID=0)).tiltakgjennomforing_id == 0
    assert ArenaHistDeltaker.from_payload(hist_payload(TILTAKGJENNOMFORING_ID=0)).tiltakgjennomforing_id == 0


def test_person_id_may_be_null_at_parse_time():
    # PERSON_ID null is INVALID only after the gjennomføring and external-source checks (spec §5.3).
    assert ArenaDeltaker.from_payload(deltaker_payload(PERSON_ID=None)).person_id is None


@pytest.mark.parametrize("name", ["DATO_FRA", "DATO_TIL", "REG_DATO", "MOD_DATO", "DATO_STATUSENDRING"])
@pytest.mark.parametrize(
    "value", ["2022-01-11", "2022-01-11T11:00:40", "11.01.2022 11:00:40", "2022-02-30 00:00:00", 20220111]
)
def test_bad_dates_name_the_field(name, value):
    error = _error(ArenaDeltaker.from_payload, deltaker_payload(**{name: value}))
    assert error.field == name
    assert repr(value) in str(error)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PERSON_ID", "abc"),
        ("PERSON_ID", 1.5),
        ("AKTIVITET_ID", True),
        ("PROSENT_DELTID", "mye"),
        ("ANTALL_DAGER_PR_UKE", [2]),
        ("DELTAKERSTATUSKODE", {"kode": "GJENN"}),
        ("PRIORITET", "1.5"),
        ("PERSON_ID", "\u0663\u0663"),
        ("PROSENT_DELTID", "nan"),
        ("PROSENT_DELTID", "1_000"),
        ("PROSENT_DELTID", "\u0663"),
    ],
)
def test_values_of_the_wrong_type_name_the_field(name, value):
    assert _error(ArenaDeltaker.from_payload, deltaker_payload(**{name: value})).field == name


def test_numbers_are_read_like_jackson_reads_them():
    deltaker = ArenaDeltaker.from_payload(
        deltaker_payload(PERSON_ID="556677", AKTIVITET_ID=9876453.0, PROSENT_DELTID="40", REG_USER=1234)
    )
    assert (deltaker.person_id, deltaker.aktivitet_id) == (556677, 9876453)
    assert deltaker.prosent_deltid == 40.0
    assert deltaker.reg_user == "1234"


def test_hist_sample_is_typed_with_its_own_id():
    hist = ArenaHistDeltaker.from_payload(hist_payload(HIST_TILTAKDELTAKER_ID=998877, EKSTERN_ID="abc"))
    assert hist.hist_tiltakdeltaker_id == 998877
    assert hist.arena_id == "998877"
    assert hist.ekstern_id == "abc"


def test_payload_that_is_not_an_object():
    assert _error(ArenaDeltaker.from_payload, [1, 2]).field == "payload"


# ---- gjennomføring ------------------------------------------------------------------------------------


def test_gjennomforing_sample_is_valid():
    gjennomforing = ArenaGjennomforing.from_payload(gjennomforing_payload())
    assert gjennomforing.tiltakgjennomforing_id == 3461841
    assert gjennomforing.arena_id == "3461841"
    assert gjennomforing.tiltakskode == "GRUPPEAMO"
    assert gjennomforing.profilelement_id_oppl_tiltak == "91893"  # a number in a text column
    assert gjennomforing.is_valid
    assert gjennomforing.invalid_reason is None


@pytest.mark.parametrize("name", ["TILTAKGJENNOMFORING_ID", "TILTAKSKODE"])
def test_required_gjennomforing_fields_are_named(name):
    payload = gjennomforing_payload()
    del payload[name]
    assert _error(ArenaGjennomforing.from_payload, payload).field == name


def test_zero_gjennomforing_id_is_invalid():
    assert _error(ArenaGjennomforing.from_payload, gjennomforing_payload(TILTAKGJENNOMFORING_ID=0)).field == (
        "TILTAKGJENNOMFORING_ID"
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"SAK_ID": None}, "SAK_ID is missing"),
        ({"ARBGIV_ID_ARRANGOR": None}, "ARBGIV_ID_ARRANGOR is missing"),
        ({"LOKALTNAVN": None}, "LOKALTNAVN is missing"),
        ({"TILTAKSTATUSKODE": None}, "TILTAKSTATUSKODE is missing"),
        ({"REG_DATO": None}, "REG_DATO is missing"),
        ({"REG_DATO": "2018-12-21"}, "REG_DATO '2018-12-21' is not a date"),
        ({"DATO_FRA": "03.01.2019"}, "DATO_FRA '03.01.2019' is not a date"),
        ({"DATO_TIL": "2021-06-31 00:00:00"}, "DATO_TIL '2021-06-31 00:00:00' is not a valid date"),
        ({"DATO_FREMMOTE": "i morgen"}, "DATO_FREMMOTE 'i morgen' is not a date"),
    ],
)
def test_invalid_gjennomforing_is_parsed_but_not_valid(changes, reason):
    gjennomforing = ArenaGjennomforing.from_payload(gjennomforing_payload(**changes))
    assert not gjennomforing.is_valid
    assert gjennomforing.invalid_reason.startswith(reason)


def test_gjennomforing_without_optional_dates_is_valid():
    assert ArenaGjennomforing.from_payload(gjennomforing_payload(DATO_FRA=None, DATO_TIL=None)).is_valid


# ---- dispatch and ledger JSON -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "payload", "record_type"),
    [
        (TILTAKGJENNOMFORING_TABLE, gjennomforing_payload(), ArenaGjennomforing),
        (TILTAKDELTAKER_TABLE, deltaker_payload(), ArenaDeltaker),
        (HIST_TILTAKDELTAKER_TABLE, hist_payload(), ArenaHistDeltaker),
    ],
)
def test_parse_payload_routes_and_ledger_json_round_trips(table, payload, record_type):
    record = parse_payload(table, payload)
    assert type(record) is record_type
    ledger = to_ledger_json(record)
    assert json.loads(json.dumps(ledger)) == ledger  # plain JSON values only
    assert parse_payload(table, ledger) == record
    assert sorted(ledger) == sorted(f.name.upper() for f in fields(record))
    assert next(iter(ledger)).endswith("_ID")  # the row's own id leads


def test_parse_payload_rejects_an_unknown_table():
    with pytest.raises(ValueError, match="unknown Arena table"):
        parse_payload("SIAMO.SAK", {})


def test_ledger_json_drops_unknown_fields_and_writes_arena_dates():
    ledger = to_ledger_json(
        ArenaDeltaker.from_payload(deltaker_payload(UKJENT_KOLONNE="x", ANTALL_DAGER_PR_UKE=2.5))
    )
    assert "UKJENT_KOLONNE" not in ledger
    assert ledger["TILTAKDELTAKER_ID"] == 123456
    assert ledger["DATO_FRA"] == "2020-03-02 00:00:00"
    assert ledger["REG_DATO"] == "2022-01-11 11:00:40"
    assert ledger["PROSENT_DELTID"] == 40.0
    assert ledger["ANTALL_DAGER_PR_UKE"] == 2.5
    assert ledger["BEGRUNNELSE_BESTILLING"] == ""
    assert ledger["EKSTERN_ID"] is None


def test_from_message_to_record():
    message = parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, "D", before=deltaker_payload())))
    assert parse_payload(message.table, message.payload).arena_id == message.arena_id


# ---- the intake's direct ledger JSON is the typed round trip --------------------------------------------

_SAMPLES = {
    TILTAKGJENNOMFORING_TABLE: gjennomforing_payload,
    TILTAKDELTAKER_TABLE: deltaker_payload,
    HIST_TILTAKDELTAKER_TABLE: hist_payload,
}
_COLUMN_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["2022-01-11 11:00:40", "0999-01-01 00:00:00", "2022-02-30 00:00:00", "2022-01-11", "0", "12"]
    ),
    st.lists(st.integers(), max_size=2),
)


def _outcome(read, table, payload):
    try:
        value = read(table, payload)
    except ArenaPayloadError as error:
        return ("error", error.field, str(error))
    return ("ledger", list(value.items()))


@settings(max_examples=400, deadline=None)
@given(
    table=st.sampled_from(sorted(_SAMPLES)),
    changes=st.dictionaries(
        st.sampled_from(sorted({*deltaker_payload(), *gjennomforing_payload(), "HIST_TILTAKDELTAKER_ID"})),
        _COLUMN_VALUES,
        max_size=4,
    ),
    dropped=st.sets(st.sampled_from(sorted({*deltaker_payload(), *gjennomforing_payload()})), max_size=2),
)
@example(table=TILTAKDELTAKER_TABLE, changes={"BEGRUNNELSE_BESTILLING": None}, dropped=set())
@example(table=TILTAKDELTAKER_TABLE, changes={"TILTAKDELTAKER_ID": "x", "PERSON_ID": "y"}, dropped=set())
def test_ledger_json_equals_the_typed_round_trip(table, changes, dropped):
    payload = {k: v for k, v in _SAMPLES[table](**changes).items() if k not in dropped}
    expected = _outcome(lambda t, p: to_ledger_json(parse_payload(t, p)), table, payload)
    assert _outcome(ledger_json, table, payload) == expected
