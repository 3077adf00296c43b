"""The Oracle GoldenGate envelope of an Arena Kafka record (spec §1). Pure: no Dagster, no I/O.

Every way a raw value can fail to become a message raises ArenaMessageError. The original let these
escape its try/catch and block the partition; under spec §10 the caller stores the raw value as INVALID
with the error's reason instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

TILTAKGJENNOMFORING_TABLE = "SIAMO.TILTAKGJENNOMFORING"
TILTAKDELTAKER_TABLE = "SIAMO.TILTAKDELTAKER"
HIST_TILTAKDELTAKER_TABLE = "SIAMO.HIST_TILTAKDELTAKER"

# The payload column that identifies the Arena row, per table.
ARENA_ID_FIELDS: dict[str, str] = {
    TILTAKGJENNOMFORING_TABLE: "TILTAKGJENNOMFORING_ID",
    TILTAKDELTAKER_TABLE: "TILTAKDELTAKER_ID",
    HIST_TILTAKDELTAKER_TABLE: "HIST_TILTAKDELTAKER_ID",
}
ARENA_TABLES = frozenset(ARENA_ID_FIELDS)

# Width of a production `pos`; padding to it makes string order (the ledger's keyset paging) equal
# numeric order (the processors' ordering guard), spec §9.5.
POS_WIDTH = 20

# ASCII only: Python's \d and int() also take other scripts' digits, which Arena never sends.
_OP_TS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)
_ESCAPED_NUL = "\\\\u0000"  # the text \\u0000 (JSON for a backslash then "u0000"), as the original strips
_NUL = "\x00"
_ESCAPED_NUL_CHAR = "\\u0000"  # the text \u0000: JSON for one NUL character


class Operation(str, Enum):
    CREATED = "CREATED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


_OPERATIONS = {"I": Operation.CREATED, "U": Operation.MODIFIED, "D": Operation.DELETED}


class ArenaMessageError(ValueError):
    """A raw record that cannot become an ArenaMessage. `table` is set when the envelope named a known
    table, so the ledger row for the INVALID value can still be filed under it."""

    def __init__(self, reason: str, table: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.table = table


@dataclass(frozen=True)
class ArenaMessage:
    table: str
    operation: Operation
    op_ts: datetime  # naive: Arena sends local time with no zone
    pos: str  # zero-padded to POS_WIDTH digits
    arena_id: str
    payload: dict[str, Any]  # `after` for CREATED/MODIFIED, `before` for DELETED
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def remove_null_characters(text: str) -> str:
    """Drop NUL characters Arena leaves in free-text columns (e.g. VURDERING_GJENNOMFORING)."""
    return text.replace(_ESCAPED_NUL, "").replace(_NUL, "")


def _strip_nul(value: Any) -> Any:
    # A JSON-escaped \u0000 only becomes a NUL after decoding, so clean the decoded values too; doing it
    # here rather than on the text cannot break an escaped backslash that happens to precede "u0000".
    if isinstance(value, str):
        return value.replace(_NUL, "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def fixed_place_datetime(value: str) -> datetime | None:
    """`yyyy-MM-dd HH:mm:ss[.SSSSSS]` whose shape a pattern has checked, read from its fixed places
    (much faster than strptime); None for an impossible date or time, whose reason strptime gives."""
    try:
        return datetime(
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
            int(value[20:26]) if len(value) > 19 else 0,
        )
    except ValueError:
        return None


def parse_op_ts(value: Any) -> datetime:
    """`yyyy-MM-dd HH:mm:ss.SSSSSS`, exactly six fraction digits as the original's formatter demands."""
    if not isinstance(value, str) or not _OP_TS.fullmatch(value):
        raise ValueError(f"op_ts {value!r} is not yyyy-MM-dd HH:mm:ss.SSSSSS")
    moment = fixed_place_datetime(value)
    if moment is not None:
        return moment
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError as exc:  # right shape, impossible date (month 13, 30 February)
        raise ValueError(f"op_ts {value!r} is not a valid time: {exc}") from None


def pad_pos(value: Any) -> str:
    """The GoldenGate position as a POS_WIDTH-digit string."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        raise ValueError(f"pos {value!r} is not a non-negative whole number")
    digits = text.lstrip("0") or "0"
    if len(digits) > POS_WIDTH:
        raise ValueError(f"pos {value!r} has more than {POS_WIDTH} digits")
    return digits.zfill(POS_WIDTH)


def _arena_id(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    if value is None:
        raise ValueError(f"{field} is missing")
    number = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    if number is None:
        raise ValueError(f"{field} {value!r} is not a non-negative whole number")
    if number >= 2**63:  # a Kotlin Long in the original
        raise ValueError(f"{field} {value!r} is out of range")
    return str(number)


def _decode(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArenaMessageError(f"value is not UTF-8: {exc}") from exc


def parse_arena_message(raw: bytes | str) -> ArenaMessage:
    """Parse one record value of the three Arena topics; raise ArenaMessageError with the reason."""
    text = remove_null_characters(_decode(raw))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArenaMessageError(f"value is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ArenaMessageError(f"value is a JSON {type(document).__name__}, not an object")
    if _ESCAPED_NUL_CHAR in text:  # only a JSON-escaped NUL can leave one in the decoded values
        document = _strip_nul(document)

    table = document.get("table")
    if not isinstance(table, str) or table not in ARENA_TABLES:
        raise ArenaMessageError(f"unknown table {table!r}")
    op_type = document.get("op_type")
    operation = _OPERATIONS.get(op_type) if isinstance(op_type, str) else None
    if operation is None:
        raise ArenaMessageError(f"unknown op_type {op_type!r}", table)
    try:
        op_ts = parse_op_ts(document.get("op_ts"))
        pos = pad_pos(document.get("pos"))
    except ValueError as exc:
        raise ArenaMessageError(str(exc), table) from exc

    before, after = document.get("before"), document.get("after")
    side = "before" if operation is Operation.DELETED else "after"
    payload = before if side == "before" else after
    if not isinstance(payload, dict):
        raise ArenaMessageError(f"{side} is missing for op_type {op_type}", table)
    try:
        arena_id = _arena_id(payload, ARENA_ID_FIELDS[table])
    except ValueError as exc:
        raise ArenaMessageError(f"{side}: {exc}", table) from exc

    return ArenaMessage(
        table=table,
        operation=operation,
        op_ts=op_ts,
        pos=pos,
        arena_id=arena_id,
        payload=payload,
        # The side the operation does not use is informational only: keep it when it is an object.
        before=before if isinstance(before, dict) else None,
        after=after if isinstance(after, dict) else None,
    )
