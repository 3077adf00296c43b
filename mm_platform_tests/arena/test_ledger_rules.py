"""The ledger's status decisions (spec §2.3, §2.4, §2.5) and the retry back-off of §10."""

from __future__ import annotations

import datetime as dt

import pytest

from mm_platform.arena.rules.ledger import (
    MAX_INGEST_ATTEMPTS,
    ArenaStatus,
    LedgerRow,
    Outcome,
    earlier_unhandled,
    live_status,
    retry_delay,
    retry_due,
    retry_status,
)

S = ArenaStatus


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (Outcome.HANDLED, S.HANDLED),
        (Outcome.DEPENDENCY_NOT_INGESTED, S.RETRY),
        (Outcome.DEPENDENCY_NOT_VALID, S.WAITING),
        (Outcome.INVALID, S.INVALID),
        (Outcome.IGNORED, S.IGNORED),
        (Outcome.NOT_IMPLEMENTED, S.FAILED),
        (Outcome.EXTERNAL_SOURCE, S.EXTERNAL_SOURCE),
        (Outcome.ERROR, S.RETRY),
    ],
)
def test_the_live_path_maps_each_outcome_as_the_original(outcome: Outcome, status: ArenaStatus) -> None:
    assert live_status(outcome) is status


def test_the_retry_path_counts_failures_and_fails_a_retry_row_on_its_tenth_attempt() -> None:
    assert retry_status(S.RETRY, 4, Outcome.HANDLED) == (S.HANDLED, 4, False)
    assert retry_status(S.RETRY, 4, Outcome.ERROR) == (S.RETRY, 5, True)
    assert retry_status(S.RETRY, MAX_INGEST_ATTEMPTS - 2, Outcome.DEPENDENCY_NOT_INGESTED).status is S.RETRY
    assert retry_status(S.RETRY, MAX_INGEST_ATTEMPTS - 1, Outcome.ERROR) == (
        S.FAILED,
        MAX_INGEST_ATTEMPTS,
        True,
    )
    # a FAILED row retried at night stays FAILED, however often
    assert retry_status(S.FAILED, 40, Outcome.ERROR) == (S.FAILED, 41, True)
    assert retry_status(S.FAILED, 40, Outcome.HANDLED).status is S.HANDLED
    for outcome, status in (
        (Outcome.IGNORED, S.IGNORED),
        (Outcome.EXTERNAL_SOURCE, S.EXTERNAL_SOURCE),
        (Outcome.DEPENDENCY_NOT_VALID, S.WAITING),
    ):
        assert retry_status(S.RETRY, 2, outcome) == (status, 3, True)


def test_a_message_that_cannot_become_valid_is_settled_invalid_on_the_retry_path_too() -> None:
    # §10: the original kept retrying it 10 times, then every night forever
    assert retry_status(S.RETRY, 0, Outcome.INVALID) == (S.INVALID, 1, True)
    assert retry_status(S.FAILED, 12, Outcome.INVALID) == (S.INVALID, 13, True)


def test_retries_back_off_from_the_last_attempt() -> None:
    assert [retry_delay(n).total_seconds() / 60 for n in range(0, 8)] == [0, 10, 20, 40, 80, 160, 320, 360]
    assert retry_delay(30) == dt.timedelta(hours=6)
    now = dt.datetime(2026, 6, 15, 12, 0)
    assert retry_due(0, None, now)
    assert retry_due(3, now - dt.timedelta(minutes=40), now)
    assert not retry_due(3, now - dt.timedelta(minutes=39), now)


def test_an_earlier_unhandled_row_holds_back_a_newer_message_of_the_same_deltaker() -> None:
    rows = [
        LedgerRow("00000000000000000031", S.INVALID),
        LedgerRow("00000000000000000033", S.RETRY),
        LedgerRow("00000000000000000034", S.WAITING),
        LedgerRow("00000000000000000040", S.RETRY),  # newer: does not block 35
    ]
    assert earlier_unhandled(rows, "00000000000000000035") == rows[1]
    assert earlier_unhandled(rows, "00000000000000000033") is None  # only INVALID before it
    settled = [
        LedgerRow("00000000000000000001", s) for s in (S.INVALID, S.IGNORED, S.EXTERNAL_SOURCE, S.HANDLED)
    ]
    assert earlier_unhandled(settled, "00000000000000000002") is None
    # padded positions compare as numbers do: 9 < 10
    assert earlier_unhandled([LedgerRow("00000000000000000009", S.FAILED)], "00000000000000000010")
