"""Relative scoring and ranking (spec §6): MAXIMIZE, MINIMIZE, all-zero best, failed tests, latest
submission supersedes, one row per member and phase."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_platform.scoring.rules.config import ScoreDirection
from mm_platform.scoring.rules.events import SubmissionEvent, parse_submission_event
from mm_platform.scoring.rules.leaderboard import (
    FAILED,
    SCORED,
    LeaderboardRow,
    ScoredSubmission,
    build_leaderboard,
    failed_submission,
    latest_per_member,
    relative_test_score,
    scored_submission,
)
from mm_platform.scoring.rules.scores import validate_result

MAX, MIN = ScoreDirection.MAXIMIZE, ScoreDirection.MINIMIZE
T0 = datetime(2024, 3, 29, tzinfo=timezone.utc)


def scored(
    member: str, tests: dict[int, float], minutes: int = 0, phase: str = "provisional", sub: str | None = None
) -> ScoredSubmission:
    return ScoredSubmission(
        phase=phase,
        member_id=member,
        submission_id=sub or f"{member}-{minutes}",
        created=T0 + timedelta(minutes=minutes),
        status=SCORED,
        score=sum(tests.values()),
        test_scores=tests,
    )


def failed(member: str, minutes: int = 0, phase: str = "provisional") -> ScoredSubmission:
    created = T0 + timedelta(minutes=minutes)
    return ScoredSubmission(
        phase, member, f"{member}-{minutes}", created, FAILED, reason="scorer timed out after 60 s"
    )


def by_member(rows: list[LeaderboardRow]) -> dict[str, LeaderboardRow]:
    return {row.member_id: row for row in rows}


def test_maximize_relative_is_share_of_the_best_per_test() -> None:
    rows = by_member(build_leaderboard([scored("a", {1: 10, 2: 5}), scored("b", {1: 5, 2: 10})], MAX))
    # a: (10/10 + 5/10) / 2 = 75 %; b the same
    assert rows["a"].relative_score == pytest.approx(75.0)
    assert rows["b"].relative_score == pytest.approx(75.0)
    # equal relative and equal raw: the earlier submission ranks first (here: same time, then id)
    assert [rows["a"].rank, rows["b"].rank] == [1, 2]


def test_minimize_relative_is_best_over_score() -> None:
    rows = by_member(build_leaderboard([scored("a", {1: 2, 2: 8}), scored("b", {1: 4, 2: 4})], MIN))
    assert rows["a"].relative_score == pytest.approx(100 * (1 + 0.5) / 2)
    assert rows["b"].relative_score == pytest.approx(100 * (0.5 + 1) / 2)
    # equal relative: the lower raw score (10 vs 8) wins when minimizing
    assert (rows["b"].rank, rows["a"].rank) == (1, 2)


def test_a_failed_test_counts_zero_and_is_not_the_best() -> None:
    rows = by_member(build_leaderboard([scored("a", {1: 10, 2: -1}), scored("b", {1: 5, 2: 4})], MAX))
    assert rows["a"].relative_score == pytest.approx(50.0)  # (1 + 0) / 2
    assert rows["b"].relative_score == pytest.approx(75.0)  # (0.5 + 1) / 2: best of test 2 is b's 4
    assert rows["b"].rank == 1


def test_a_failed_test_is_not_the_best_when_minimizing() -> None:
    rows = by_member(build_leaderboard([scored("a", {1: -1}), scored("b", {1: 8})], MIN))
    assert (rows["a"].relative_score, rows["b"].relative_score) == (0.0, 100.0)


@pytest.mark.parametrize("direction", [MAX, MIN])
def test_an_all_zero_best_gives_zero_not_a_division_error(direction: ScoreDirection) -> None:
    rows = build_leaderboard([scored("a", {1: 0}), scored("b", {1: 0})], direction)
    assert [row.relative_score for row in rows] == [0.0, 0.0]


@pytest.mark.parametrize(
    ("score", "best", "direction", "expected"),
    [
        (5, 10, MAX, 0.5),
        (10, 5, MIN, 0.5),
        (-1, 10, MAX, 0.0),
        (3, 0, MAX, 0.0),
        (0, 0, MIN, 0.0),
        (3, None, MAX, 0.0),
    ],
)
def test_relative_test_score(
    score: float, best: float | None, direction: ScoreDirection, expected: float
) -> None:
    assert relative_test_score(score, best, direction) == expected


def test_the_latest_submission_supersedes_even_when_worse() -> None:
    rows = build_leaderboard(
        [scored("a", {1: 10}, minutes=0), scored("a", {1: 2}, minutes=5), scored("b", {1: 4})]
    )
    assert len(rows) == 2
    a = by_member(rows)["a"]
    assert (a.submission_id, a.raw_score) == ("a-5", 2)
    # the best is taken among counted submissions only: b's 4 is the best now
    assert by_member(rows)["b"].relative_score == 100.0
    assert a.relative_score == pytest.approx(50.0)


def test_latest_does_not_depend_on_arrival_order() -> None:
    subs = [scored("a", {1: 10}, minutes=9), scored("a", {1: 2}, minutes=5)]
    assert latest_per_member(subs) == latest_per_member(list(reversed(subs)))
    assert latest_per_member(subs)[("provisional", "a")].submission_id == "a-9"


def test_a_failed_latest_submission_counts_with_no_score_and_ranks_last() -> None:
    rows = build_leaderboard([scored("a", {1: 10}, minutes=0), failed("a", minutes=5), scored("b", {1: 0})])
    a = by_member(rows)["a"]
    assert (a.status, a.raw_score, a.relative_score) == (FAILED, None, 0.0)
    assert [row.member_id for row in rows] == ["b", "a"]


def test_one_row_per_member_and_phase_ranked_within_each_phase() -> None:
    subs = [
        scored("a", {1: 10}, phase="provisional"),
        scored("a", {1: 10}, minutes=1, phase="provisional"),
        scored("a", {7: 1}, phase="system"),
        scored("b", {1: 20}, phase="provisional"),
        scored("b", {7: 2}, phase="system"),
    ]
    rows = build_leaderboard(subs)
    assert sorted((r.phase, r.member_id) for r in rows) == [
        ("provisional", "a"),
        ("provisional", "b"),
        ("system", "a"),
        ("system", "b"),
    ]
    assert [(r.phase, r.rank, r.member_id) for r in rows] == [
        ("provisional", 1, "b"),
        ("provisional", 2, "a"),
        ("system", 1, "b"),
        ("system", 2, "a"),
    ]


def test_a_missing_test_case_counts_zero_over_the_phase_tests() -> None:
    rows = by_member(
        build_leaderboard(
            [scored("a", {1: 10}), scored("b", {1: 10, 2: 10})], testcases_by_phase={"provisional": [1, 2]}
        )
    )
    assert rows["a"].relative_score == pytest.approx(50.0)
    assert rows["b"].relative_score == pytest.approx(100.0)


def test_without_relative_scoring_rank_is_by_raw_score() -> None:
    rows = build_leaderboard([scored("a", {1: 3}), scored("b", {1: 9})], MIN, relative_scoring_enabled=False)
    assert [(r.member_id, r.relative_score) for r in rows] == [("a", None), ("b", None)]


def test_ties_go_to_the_earlier_submission() -> None:
    rows = build_leaderboard([scored("late", {1: 5}, minutes=3), scored("early", {1: 5}, minutes=1)])
    assert [r.member_id for r in rows] == ["early", "late"]


def test_empty_input_gives_an_empty_leaderboard() -> None:
    assert build_leaderboard([]) == []


_submissions = st.lists(
    st.builds(
        lambda member, minutes, phase, tests, ok: (
            scored(member, tests, minutes, phase, sub=f"{member}-{phase}-{minutes}")
            if ok
            else failed(member, minutes, phase)
        ),
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(0, 5),
        st.sampled_from(["provisional", "system"]),
        st.dictionaries(st.integers(1, 3), st.floats(-1, 1e6, allow_nan=False) | st.just(-1.0), max_size=3),
        st.booleans(),
    ),
    max_size=15,
)


@settings(max_examples=200, deadline=None)
@given(_submissions, st.sampled_from([MAX, MIN]))
def test_properties_one_row_per_member_and_phase_ranks_dense_relative_in_range(
    submissions: list[ScoredSubmission], direction: ScoreDirection
) -> None:
    rows = build_leaderboard(submissions, direction)
    keys = [(r.phase, r.member_id) for r in rows]
    assert len(keys) == len(set(keys)) == len({(s.phase, s.member_id) for s in submissions})
    for phase in {r.phase for r in rows}:
        ranks = [r.rank for r in rows if r.phase == phase]
        assert ranks == list(range(1, len(ranks) + 1))
    assert all(r.relative_score is not None and 0.0 <= r.relative_score <= 100.0 + 1e-9 for r in rows)


def test_rows_from_parsed_events_and_validated_results() -> None:
    def event(sub: str, member: str, created: str) -> SubmissionEvent:
        message = {
            "id": sub,
            "challengeId": "c1",
            "url": "https://h/s.zip",
            "memberId": member,
            "created": created,
        }
        parsed = parse_submission_event(message)
        assert isinstance(parsed, SubmissionEvent)
        return parsed

    result = validate_result({"score": 9, "testScores": [{"testcase": 1, "score": 9, "runTimeMs": 3}]})
    rows = build_leaderboard(
        [
            scored_submission(event("s1", "7", "2024-03-29T01:00:00Z"), "provisional", result),
            failed_submission(
                event("s2", "8", "2024-03-29T02:00:00Z"), "provisional", "scorer exited with code 1"
            ),
        ]
    )
    assert [(r.member_id, r.rank, r.raw_score, r.relative_score) for r in rows] == [
        ("7", 1, 9.0, 100.0),
        ("8", 2, None, 0.0),
    ]


def test_a_test_reported_with_an_error_counts_as_failed_whatever_its_score() -> None:
    event = parse_submission_event(
        {
            "id": "s1",
            "challengeId": "c1",
            "url": "https://h/s.zip",
            "memberId": 7,
            "created": "2024-03-29T01:00:00Z",
        }
    )
    assert isinstance(event, SubmissionEvent)
    result = validate_result(
        {
            "score": 5,
            "testScores": [
                {"testcase": 1, "score": 5, "runTimeMs": 3},
                {"testcase": 2, "score": 9, "runTimeMs": 3, "error": "wrong answer"},
            ],
        }
    )
    assert scored_submission(event, "provisional", result).test_scores == {1: 5.0, 2: -1.0}
