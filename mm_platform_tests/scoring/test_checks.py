"""The scoring checks (spec §6): every valid submission has a score or a FAILED reason; one leaderboard
row per member and phase."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from mm_platform.scoring.rules.checks import repeated_leaderboard_rows, submissions_without_outcome
from mm_platform.scoring.rules.leaderboard import FAILED, SCORED, LeaderboardRow, ScoredSubmission

T0 = datetime(2024, 3, 29, tzinfo=timezone.utc)
OK = ScoredSubmission("provisional", "m1", "s1", T0, SCORED, score=5.0, test_scores={1: 5.0})


def test_scored_and_failed_with_reason_are_outcomes() -> None:
    failed = ScoredSubmission("provisional", "m2", "s2", T0, FAILED, reason="scorer exited with code 1")
    assert submissions_without_outcome([("s1", "provisional"), ("s2", "provisional")], [OK, failed]) == []


def test_missing_row_and_failed_without_reason_are_reported() -> None:
    silent = ScoredSubmission("provisional", "m2", "s2", T0, FAILED, reason="  ")
    expected = [("s1", "system"), ("s2", "provisional"), ("s1", "provisional")]
    assert submissions_without_outcome(expected, [OK, silent]) == [("s1", "system"), ("s2", "provisional")]


def test_a_scored_row_without_score_is_no_outcome() -> None:
    assert submissions_without_outcome([("s1", "provisional")], [replace(OK, score=None)]) == [
        ("s1", "provisional")
    ]


def test_repeated_leaderboard_rows_are_found() -> None:
    row = LeaderboardRow("provisional", 1, "m1", "s1", T0, SCORED, 5.0, 100.0)
    other_phase = replace(row, phase="system")
    assert repeated_leaderboard_rows([row, other_phase]) == []
    assert repeated_leaderboard_rows([row, replace(row, rank=2, submission_id="s0")]) == [
        ("provisional", "m1")
    ]
