"""The `arena_data` ledger's statuses and every transition (spec §2), as pure decisions.

A processor ends a message in one `Outcome`; the live path (§2.3) and the retry path (§2.4) turn it
into the row's next status. The deliberate fixes of §10 are here too: retries back off from
`last_attempted` on a documented schedule instead of every job cycle, and unknown Arena codes are
INVALID (they arrive as `Outcome.INVALID`, never as a generic error). Pure: no Dagster, no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple


class ArenaStatus(str, Enum):
    NEW = "NEW"
    HANDLED = "HANDLED"
    RETRY = "RETRY"
    FAILED = "FAILED"
    IGNORED = "IGNORED"
    INVALID = "INVALID"
    WAITING = "WAITING"
    EXTERNAL_SOURCE = "EXTERNAL_SOURCE"


class Outcome(str, Enum):
    """How a processor ended a message (the original's exception classes, §2.3)."""

    HANDLED = "HANDLED"
    DEPENDENCY_NOT_INGESTED = "DEPENDENCY_NOT_INGESTED"  # the gjennomføring is not there yet
    DEPENDENCY_NOT_VALID = "DEPENDENCY_NOT_VALID"  # the gjennomføring is there but invalid
    INVALID = "INVALID"  # validation failed, an unknown code, a person Arena has no ident for
    IGNORED = "IGNORED"  # an unsupported tiltak, a hist U/D
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"  # e.g. more than one local match for a hist deltaker
    EXTERNAL_SOURCE = "EXTERNAL_SOURCE"  # the deltaker belongs to another system
    ERROR = "ERROR"  # anything else: a lookup answering 5xx, the database


LIVE_STATUS = {
    Outcome.HANDLED: ArenaStatus.HANDLED,
    Outcome.DEPENDENCY_NOT_INGESTED: ArenaStatus.RETRY,
    Outcome.DEPENDENCY_NOT_VALID: ArenaStatus.WAITING,
    Outcome.INVALID: ArenaStatus.INVALID,
    Outcome.IGNORED: ArenaStatus.IGNORED,
    Outcome.NOT_IMPLEMENTED: ArenaStatus.FAILED,
    Outcome.EXTERNAL_SOURCE: ArenaStatus.EXTERNAL_SOURCE,
    Outcome.ERROR: ArenaStatus.RETRY,
}

MAX_INGEST_ATTEMPTS = 10
# a row at these statuses holds back a newer message of the same deltaker (§2.5 ordering guard)
BLOCKING = frozenset({ArenaStatus.RETRY, ArenaStatus.FAILED, ArenaStatus.WAITING})
# no job picks these up again (§2.5); only IGNORED rows are deleted, by the hourly job
TERMINAL = frozenset({ArenaStatus.HANDLED, ArenaStatus.INVALID, ArenaStatus.EXTERNAL_SOURCE})


def live_status(outcome: Outcome) -> ArenaStatus:
    """The status a message gets when it is first processed (§2.3); attempts are not counted."""
    return LIVE_STATUS[outcome]


class RetryDecision(NamedTuple):
    status: ArenaStatus
    attempts: int
    counts_attempt: bool  # whether last_attempted and the note are written


def retry_status(current: ArenaStatus, attempts: int, outcome: Outcome) -> RetryDecision:
    """The retry job's verdict on a RETRY or FAILED row (§2.4): success HANDLED, attempts untouched;
    IGNORED, EXTERNAL_SOURCE and WAITING as on the live path; any other failure keeps the status,
    except a RETRY row whose 10th attempt failed, which becomes FAILED. Every failure counts."""
    if outcome is Outcome.HANDLED:
        return RetryDecision(ArenaStatus.HANDLED, attempts, counts_attempt=False)
    tried = attempts + 1
    if outcome in (Outcome.IGNORED, Outcome.EXTERNAL_SOURCE, Outcome.DEPENDENCY_NOT_VALID):
        return RetryDecision(LIVE_STATUS[outcome], tried, counts_attempt=True)
    if outcome is Outcome.INVALID:
        # §10: a message that cannot become valid by waiting is settled, not retried 10 times
        return RetryDecision(ArenaStatus.INVALID, tried, counts_attempt=True)
    if current is ArenaStatus.RETRY and tried >= MAX_INGEST_ATTEMPTS:
        return RetryDecision(ArenaStatus.FAILED, tried, counts_attempt=True)
    return RetryDecision(current, tried, counts_attempt=True)


# §10: retries back off from last_attempted; the job still runs every 10 minutes
BACKOFF_BASE = dt.timedelta(minutes=10)
BACKOFF_CAP = dt.timedelta(hours=6)


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after its last attempt a RETRY row is due again: 0 before any attempt, then 10, 20,
    40, 80 ... minutes, at most 6 hours (a 10-attempt row becomes FAILED after about 85 hours of
    waiting instead of the original's 100 minutes, so an outage of a day does not fail a backlog)."""
    if attempts <= 0:
        return dt.timedelta(0)
    return min(BACKOFF_BASE * (2 ** (attempts - 1)), BACKOFF_CAP)


def retry_due(attempts: int, last_attempted: dt.datetime | None, now: dt.datetime) -> bool:
    return last_attempted is None or now - last_attempted >= retry_delay(attempts)


@dataclass(frozen=True)
class LedgerRow:
    """What the ordering guard needs of an earlier row of the same deltaker."""

    pos: str  # zero-padded to 20 digits: string order is numeric order
    status: ArenaStatus


def earlier_unhandled(rows: Iterable[LedgerRow], pos: str) -> LedgerRow | None:
    """An older row (lower pos) of the same deltaker that is RETRY, FAILED or WAITING: the new message
    must wait for it (§2.5). Older INVALID, IGNORED and EXTERNAL_SOURCE rows do not block."""
    blocking = [row for row in rows if row.pos < pos and row.status in BLOCKING]
    return min(blocking, key=lambda row: row.pos) if blocking else None


def earlier_unhandled_note(arena_id: str) -> str:
    return f"Forrige melding på deltaker med id={arena_id} er ikke håndtert enda"
