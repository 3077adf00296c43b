"""The GoldenGate envelope (spec §1): routing, operations, pos, NUL cleaning and every failure."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
    ArenaMessageError,
    Operation,
    pad_pos,
    parse_arena_message,
    remove_null_characters,
)
from mm_platform_tests.arena.samples import (
    deltaker_payload,
    envelope,
    gjennomforing_payload,
    hist_payload,
    raw,
)


@pytest.mark.parametrize(
    ("table", "payload", "arena_id"),
    [
        (TILTAKGJENNOMFORING_TABLE, gjennomforing_payload(), "3461841"),
        (TILTAKDELTAKER_TABLE, deltaker_payload(), "123456"),
        (HIST_TILTAKDELTAKER_TABLE, hist_payload(HIST_TILTAKDELTAKER_ID=998877), "998877"),
    ],
)
def test_each_table_routes_with_its_own_id(table, payload, arena_id):
    message = parse_arena_message(raw(envelope(table, "I", after=payload)))
    assert message.table == table
    assert message.arena_id == arena_id
    assert message.payload == payload


@pytest.mark.parametrize(
    ("op_type", "operation"),
    [("I", Operation.CREATED), ("U", Operation.MODIFIED), ("D", Operation.DELETED)],
)
def test_op_type_maps_to_operation(op_type, operation):
    payload = deltaker_payload()
    message = parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, op_type, before=payload, after=payload)))
    assert message.operation is operation
    assert message.operation.value == operation.name


def test_insert_and_update_use_after_and_delete_uses_before():
    old, new = deltaker_payload(DELTAKERSTATUSKODE="AKTUELL"), deltaker_payload(DELTAKERSTATUSKODE="GJENN")
    update = parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, "U", before=old, after=new)))
    assert update.payload == new
    assert (update.before, update.after) == (old, new)

    delete = parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, "D", before=old, after=None)))
    assert delete.payload == old
    assert delete.after is None


def test_delete_takes_the_arena_id_from_before():
    before = deltaker_payload(TILTAKDELTAKER_ID=42)
    message = parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, "D", before=before)))
    assert message.arena_id == "42"


def test_op_ts_is_a_naive_datetime_with_microseconds():
    message = parse_arena_message(
        raw(envelope(TILTAKDELTAKER_TABLE, after=deltaker_payload(), op_ts="2022-01-12 06:00:26.123456"))
    )
    assert message.op_ts == datetime(2022, 1, 12, 6, 0, 26, 123456)
    assert message.op_ts.tzinfo is None


def test_str_and_bytes_both_parse_and_unknown_fields_are_ignored():
    document = envelope(TILTAKDELTAKER_TABLE, after=deltaker_payload())
    document["current_ts"] = "anything"
    document["extra"] = {"nested": [1, 2]}
    assert parse_arena_message(json.dumps(document)) == parse_arena_message(raw(document))


@pytest.mark.parametrize(
    ("pos", "padded"),
    [
        ("00000000050058769820", "00000000050058769820"),
        ("33", "00000000000000000033"),
        (33, "00000000000000000033"),
        ("0", "00000000000000000000"),
        ("000000000000000000000042", "00000000000000000042"),  # extra leading zeros are not digits
    ],
)
def test_pos_is_padded_to_twenty_digits(pos, padded):
    message = parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, after=deltaker_payload(), pos=pos)))
    assert message.pos == padded


def test_padded_pos_sorts_as_strings_like_numbers():
    numbers = [9, 10, 33, 100, 5_000_000_000, 99_999_999_999_999_999_999]
    assert sorted(numbers, key=lambda n: pad_pos(n)) == sorted(numbers)
    assert sorted(pad_pos(str(n)) for n in numbers) == [pad_pos(n) for n in sorted(numbers)]


# ---- NUL characters (the original's StringUtilsTest and the bad-unicode sample) ------------------------


def _with_vurdering(encoded_value: str) -> str:
    """The gjennomføring sample as JSON text whose VURDERING_GJENNOMFORING is `encoded_value` verbatim."""
    text = json.dumps(envelope(TILTAKGJENNOMFORING_TABLE, "U", after=gjennomforing_payload()))
    field = '"VURDERING_GJENNOMFORING": '
    return text.replace(f'{field}"Vurdering"', f'{field}"{encoded_value}"')


@pytest.mark.parametrize(
    "encoded",
    [
        "\\u0000\\u0000Vurdering\\u0000",  # JSON escape, as in the bad-unicode sample
        "\x00\x00Vurdering\x00",  # literal NUL characters in the raw value
        "\\\\u0000Vurdering\\\\u0000",  # the escaped text \\u0000 the original strips before parsing
    ],
    ids=["json-escape", "literal", "escaped-text"],
)
def test_nul_characters_are_removed(encoded):
    message = parse_arena_message(_with_vurdering(encoded).encode("utf-8"))
    assert message.payload["VURDERING_GJENNOMFORING"] == "Vurdering"
    assert message.after["VURDERING_GJENNOMFORING"] == "Vurdering"


def test_remove_null_characters_handles_literal_and_escaped_text():
    assert remove_null_characters("Vurdering\x00") == "Vurdering"
    assert remove_null_characters("Vurdering\\\\u0000") == "Vurdering"
    assert remove_null_characters("no nul here") == "no nul here"


# ---- failures: each one a clear reason, never a crash -------------------------------------------------


def _error(value: bytes | str) -> ArenaMessageError:
    with pytest.raises(ArenaMessageError) as caught:
        parse_arena_message(value)
    assert isinstance(caught.value, ValueError)
    return caught.value


def test_value_that_is_not_utf8():
    assert "not UTF-8" in _error(b"\xff\xfe{}").reason


def test_value_that_is_not_json():
    assert "not JSON" in _error(b'{"table": ').reason


@pytest.mark.parametrize("value", [b"[]", b'"text"', b"42", b"null"])
def test_value_that_is_not_an_object(value):
    assert "not an object" in _error(value).reason


def test_unknown_table():
    error = _error(raw(envelope("SIAMO.SAK", after={"SAK_ID": 1})))
    assert error.reason == "unknown table 'SIAMO.SAK'"
    assert error.table is None


@pytest.mark.parametrize("table", [["SIAMO.TILTAKDELTAKER"], {"name": "x"}, 7])
def test_table_that_is_not_text(table):
    assert _error(raw(envelope(table, after=deltaker_payload()))).reason == f"unknown table {table!r}"


def test_missing_table():
    assert _error(raw({"op_type": "I"})).reason == "unknown table None"


@pytest.mark.parametrize("op_type", ["X", "i", "", None, 1])
def test_unknown_op_type(op_type):
    error = _error(raw(envelope(TILTAKDELTAKER_TABLE, op_type, after=deltaker_payload())))
    assert error.reason == f"unknown op_type {op_type!r}"
    assert error.table == TILTAKDELTAKER_TABLE  # known, so the INVALID row can be filed under it


@pytest.mark.parametrize(
    "op_ts",
    [
        "2022-01-12 00:00:06",
        "2022-01-12T00:00:06.000000",
        "2022-01-12 00:00:06.000",
        "2022-13-12 00:00:06.000000",
        "2022-02-30 00:00:06.000000",
        None,
    ],
)
def test_bad_op_ts(op_ts):
    error = _error(raw(envelope(TILTAKDELTAKER_TABLE, after=deltaker_payload(), op_ts=op_ts)))
    assert error.reason.startswith(f"op_ts {op_ts!r} is not")
    assert error.table == TILTAKDELTAKER_TABLE


@pytest.mark.parametrize("pos", ["-1", "12a", "", None, 1.5, "1" * 21, "\u0663\u0663", " 33"])
def test_bad_pos(pos):
    assert "pos" in _error(raw(envelope(TILTAKDELTAKER_TABLE, after=deltaker_payload(), pos=pos))).reason


@pytest.mark.parametrize(("op_type", "side"), [("I", "after"), ("U", "after"), ("D", "before")])
def test_missing_side(op_type, side):
    other = {"before": None, "after": None}
    other["after" if side == "before" else "before"] = deltaker_payload()
    error = _error(raw(envelope(TILTAKDELTAKER_TABLE, op_type, **other)))
    assert error.reason == f"{side} is missing for op_type {op_type}"


def test_side_that_is_not_an_object_is_missing():
    assert "after is missing" in _error(raw(envelope(TILTAKDELTAKER_TABLE, "I", after=[1]))).reason


def test_missing_arena_id():
    payload = deltaker_payload()
    del payload["TILTAKDELTAKER_ID"]
    error = _error(raw(envelope(TILTAKDELTAKER_TABLE, after=payload)))
    assert error.reason == "after: TILTAKDELTAKER_ID is missing"


def test_hist_message_needs_hist_id():
    # The original's hist sample carries TILTAKDELTAKER_ID instead; that is not a hist message's id.
    error = _error(raw(envelope(HIST_TILTAKDELTAKER_TABLE, after=deltaker_payload())))
    assert error.reason == "after: HIST_TILTAKDELTAKER_ID is missing"


@pytest.mark.parametrize("value", ["abc", -3, 1.5, True, {"id": 1}])
def test_invalid_arena_id(value):
    error = _error(raw(envelope(TILTAKDELTAKER_TABLE, after=deltaker_payload(TILTAKDELTAKER_ID=value))))
    assert "TILTAKDELTAKER_ID" in error.reason
    assert "not a non-negative whole number" in error.reason


def test_numeric_string_id_and_zero_id_are_kept():
    # Zero is stored and judged by the payload rules (INVALID for a deltaker, spec §5.3).
    def arena_id(value: object) -> str:
        payload = deltaker_payload(TILTAKDELTAKER_ID=value)
        return parse_arena_message(raw(envelope(TILTAKDELTAKER_TABLE, after=payload))).arena_id

    assert (arena_id("0077"), arena_id(0)) == ("77", "0")
