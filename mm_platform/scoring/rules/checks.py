"""What the scoring asset checks verify (spec §6). Pure: no Dagster, no I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from mm_platform.scoring.rules.leaderboard import FAILED, SCORED, LeaderboardRow, ScoredSubmission


def has_outcome(submission: ScoredSubmission) -> bool:
    """A score for a SCORED row, a reason for a FAILED one: anything else is a silent loss."""
    if submission.status == SCORED:
        return submission.score is not None
    return submission.status == FAILED and bool(submission.reason and submission.reason.strip())


def submissions_without_outcome(
    expected: Iterable[tuple[str, str]], recorded: Iterable[ScoredSubmission]
) -> list[tuple[str, str]]:
    """The (submission, phase) pairs of valid submissions that have neither a score nor a FAILED reason,
    sorted so that a check's metadata is stable between runs."""
    done = {(s.submission_id, s.phase) for s in recorded if has_outcome(s)}
    return sorted(set(expected) - done)


def repeated_leaderboard_rows(rows: Iterable[LeaderboardRow]) -> list[tuple[str, str]]:
    """The (phase, member) pairs with more than one leaderboard row (there must be none)."""
    counts = Counter((row.phase, row.member_id) for row in rows)
    return sorted(key for key, count in counts.items() if count > 1)
