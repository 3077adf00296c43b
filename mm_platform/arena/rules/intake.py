"""What the ledger keeps of one raw Arena record (spec §1, §2.1, §10). Pure: no Dagster, no I/O.

A record that cannot be read (not JSON, unknown table or op_type, bad op_ts or pos, the side the
operation needs missing, a required column missing or unreadable) becomes a rejection with the reason,
stored INVALID instead of blocking the partition (§10). A readable one keeps the *typed* payloads, as
the original writes them back out (upper-case Arena names, Arena date strings, unknown fields dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mm_platform.arena.rules.envelope import ArenaMessageError, Operation, parse_arena_message
from mm_platform.arena.rules.payloads import ArenaPayloadError, ledger_json


@dataclass(frozen=True)
class LedgerRecord:
    table: str
    operation: Operation
    op_ts: datetime
    pos: str
    arena_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class Rejection:
    reason: str
    table: str | None  # set when the envelope named a known table
    arena_id: str | None = None  # set when the envelope got as far as the record's id


def read_record(raw: bytes | str | None) -> LedgerRecord | Rejection:
    if raw is None:
        return Rejection("empty message value (tombstone)", None)
    try:
        message = parse_arena_message(raw)
    except ArenaMessageError as error:
        return Rejection(error.reason, error.table)
    except RecursionError:
        return Rejection("value is nested too deeply to read", None)
    side = "before" if message.operation is Operation.DELETED else "after"
    try:
        used = ledger_json(message.table, message.payload)
    except ArenaPayloadError as error:
        return Rejection(f"{side}: {error}", message.table, message.arena_id)
    other = message.after if side == "before" else message.before
    # the side the operation does not use is informational: kept typed when it reads, else dropped
    try:
        other_json = ledger_json(message.table, other) if other is not None else None
    except ArenaPayloadError:
        other_json = None
    before, after = (used, other_json) if side == "before" else (other_json, used)
    return LedgerRecord(
        message.table, message.operation, message.op_ts, message.pos, message.arena_id, before, after
    )
