"""The challenge leaderboard with relative scores (spec §6). Pure: no Dagster, no I/O.

Per phase, each member's latest completed submission counts (a newer one supersedes an older one);
relative score per test case is MAXIMIZE `score / best`, MINIMIZE `best / score`, 0 where the member's
test failed or the best is 0; the submission's relative score is 100 times the mean over the phase's test
cases. Rank by relative score, then raw score, then the earlier submission.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mm_platform.scoring.rules.config import ScoreDirection
from mm_platform.scoring.rules.events import SubmissionEvent
from mm_platform.scoring.rules.scores import FAILED_TEST_SCORE, ScorerResult

SCORED = "SCORED"
FAILED = "FAILED"


@dataclass(frozen=True)
class ScoredSubmission:
    """One row of `submission_scores` whose scoring has finished (status SCORED or FAILED)."""

    phase: str
    member_id: str
    submission_id: str
    created: datetime
    status: str
    score: float | None = None
    test_scores: Mapping[Hashable, float] = field(default_factory=dict)  # test case -> score (< 0: failed)
    reason: str | None = None  # why a FAILED scoring failed


@dataclass(frozen=True)
class LeaderboardRow:
    phase: str
    rank: int
    member_id: str
    submission_id: str
    created: datetime
    status: str
    raw_score: float | None
    relative_score: float | None  # None when relative scoring is off


def scored_submission(event: SubmissionEvent, phase: str, result: ScorerResult) -> ScoredSubmission:
    """The leaderboard's view of one successful scoring of `event` in `phase`."""
    tests = counted_tests([test.as_reported() for test in result.test_scores])
    return ScoredSubmission(
        phase, event.member_id, event.submission_id, event.created, SCORED, result.score, tests
    )


def counted_tests(reported: Iterable[Mapping[str, Any]]) -> dict[Hashable, float]:
    """Test case -> score as the leaderboard counts it, from the stored `testScores` entries: a test
    reported with an error is failed whatever its score (spec §3: score -1 and an error)."""
    return {
        test["testcase"]: FAILED_TEST_SCORE
        if test.get("error") is not None or test["score"] < 0
        else test["score"]
        for test in reported
    }


def failed_submission(event: SubmissionEvent, phase: str, reason: str) -> ScoredSubmission:
    """The leaderboard's view of a submission whose scoring in `phase` FAILED, and why."""
    return ScoredSubmission(phase, event.member_id, event.submission_id, event.created, FAILED, reason=reason)


def latest_per_member(submissions: Iterable[ScoredSubmission]) -> dict[tuple[str, str], ScoredSubmission]:
    """(phase, member) -> the member's latest submission in that phase. A FAILED latest submission
    still supersedes an older scored one: in a marathon match the last submission is the one judged."""
    latest: dict[tuple[str, str], ScoredSubmission] = {}
    for submission in submissions:
        key = (submission.phase, submission.member_id)
        held = latest.get(key)
        # submission id breaks a tie of equal created times, so the result never depends on input order
        if held is None or (submission.created, submission.submission_id) > (
            held.created,
            held.submission_id,
        ):
            latest[key] = submission
    return latest


def best_per_test(
    submissions: Sequence[ScoredSubmission], testcases: Iterable[Hashable], direction: ScoreDirection
) -> dict[Hashable, float | None]:
    """Test case -> the best non-failed score among the counted submissions (None if all failed)."""
    pick = max if direction is ScoreDirection.MAXIMIZE else min
    best: dict[Hashable, float | None] = {}
    for case in testcases:
        scores = [s.test_scores[case] for s in submissions if _passed(s, case)]
        best[case] = pick(scores) if scores else None
    return best


def relative_test_score(score: float, best: float | None, direction: ScoreDirection) -> float:
    """One test's relative score in [0, 1] (spec: 0 where the test failed or the best is 0)."""
    if score < 0 or not best:
        return 0.0
    if direction is ScoreDirection.MAXIMIZE:
        return score / best
    # MINIMIZE: a score of 0 beside a positive best cannot happen (best is the minimum), guard anyway
    return best / score if score > 0 else 0.0


def relative_score(
    submission: ScoredSubmission,
    testcases: Sequence[Hashable],
    best: Mapping[Hashable, float | None],
    direction: ScoreDirection,
) -> float:
    """100 times the mean relative test score over the phase's test cases; a missing test counts as 0."""
    if submission.status != SCORED or not testcases:
        return 0.0
    total = sum(
        relative_test_score(submission.test_scores[case], best.get(case), direction)
        for case in testcases
        if case in submission.test_scores
    )
    return 100.0 * total / len(testcases)


def build_leaderboard(
    submissions: Iterable[ScoredSubmission],
    direction: ScoreDirection = ScoreDirection.MAXIMIZE,
    relative_scoring_enabled: bool = True,
    testcases_by_phase: Mapping[str, Sequence[Hashable]] | None = None,
) -> list[LeaderboardRow]:
    """One row per member and phase, ordered by phase then rank. `testcases_by_phase` gives each
    phase's test cases (from its seeds); without it, the test cases any counted submission reported."""
    by_phase: dict[str, list[ScoredSubmission]] = {}
    for submission in latest_per_member(submissions).values():
        by_phase.setdefault(submission.phase, []).append(submission)
    rows: list[LeaderboardRow] = []
    for phase in sorted(by_phase):
        counted = by_phase[phase]
        cases = _testcases(counted, (testcases_by_phase or {}).get(phase))
        best = best_per_test(counted, cases, direction)
        relative = {
            s.member_id: relative_score(s, cases, best, direction) if relative_scoring_enabled else None
            for s in counted
        }
        ordered = sorted(counted, key=lambda s: _rank_key(s, relative[s.member_id], direction))
        rows += [
            LeaderboardRow(
                phase,
                rank,
                s.member_id,
                s.submission_id,
                s.created,
                s.status,
                _raw(s),
                relative[s.member_id],
            )
            for rank, s in enumerate(ordered, start=1)
        ]
    return rows


def _passed(submission: ScoredSubmission, case: Hashable) -> bool:
    return submission.status == SCORED and submission.test_scores.get(case, -1.0) >= 0


def _testcases(counted: Sequence[ScoredSubmission], given: Sequence[Hashable] | None) -> list[Hashable]:
    if given is not None:
        return list(given)
    seen = {case for s in counted if s.status == SCORED for case in s.test_scores}
    return sorted(seen, key=lambda case: (str(type(case)), case))


def _raw(submission: ScoredSubmission) -> float | None:
    return submission.score if submission.status == SCORED else None


def _rank_key(
    submission: ScoredSubmission, relative: float | None, direction: ScoreDirection
) -> tuple[object, ...]:
    raw = _raw(submission)
    # failed submissions (no raw score) rank after every scored one
    raw_key = (1, 0.0) if raw is None else (0, -raw if direction is ScoreDirection.MAXIMIZE else raw)
    return (-(relative or 0.0), raw_key, submission.created, submission.submission_id)
