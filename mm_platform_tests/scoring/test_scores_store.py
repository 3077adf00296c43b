"""The scoring store on SQLite and PostgreSQL: what a run finds open, attempts, dead letters,
acknowledgements and the leaderboard round trip."""

from __future__ import annotations

import datetime as dt

from mm_platform.core.sql import engine_for
from mm_platform.scoring.rules.events import parse_submission_event
from mm_platform.scoring.rules.leaderboard import FAILED, SCORED, build_leaderboard
from mm_platform.scoring.rules.scores import validate_result
from mm_platform.scoring.stores.scores_store import PENDING, ScoringStore

CHALLENGE = "c-1"
PHASES = ["example", "provisional"]


def event(sid: str, member: str, minute: int):
    created = dt.datetime(2026, 11, 30, 12, minute, tzinfo=dt.timezone.utc)
    return parse_submission_event(
        {
            "id": sid,
            "challengeId": CHALLENGE,
            "url": f"http://files/{sid}.zip",
            "memberId": member,
            "created": created.isoformat(),
        }
    )


def result(score: float):
    return validate_result({"score": score, "testScores": [{"testcase": 1, "score": score, "runTimeMs": 5}]})


def test_new_submissions_open_a_pending_row_per_phase_and_a_redelivery_adds_nothing(db_url: str) -> None:
    store = ScoringStore(engine_for(db_url))
    assert store.add_submissions([(event("s1", "m1", 1), 10), (event("s2", "m2", 2), 11)], PHASES) == 2
    assert store.add_submissions([(event("s1", "m1", 1), 12)], PHASES) == 0
    work = store.open_work(CHALLENGE, PHASES)
    assert [(w.submission.submission_id, w.phase, w.status) for w in work] == [
        ("s1", "example", PENDING),
        ("s1", "provisional", PENDING),
        ("s2", "example", PENDING),
        ("s2", "provisional", PENDING),
    ]
    assert work[0].submission.inbox_id == 10  # the first delivery's inbox event stays the owner
    assert store.open_work("another-challenge", PHASES) == []


def test_a_scored_phase_stays_open_until_the_api_has_acknowledged_review_and_summation(db_url: str) -> None:
    store = ScoringStore(engine_for(db_url))
    store.add_submissions([(event("s1", "m1", 1), 1)], ["provisional"])
    store.record_scored("s1", "provisional", result(42.0), "pid 7", 0.5, "run-a")
    [open_item] = store.open_work(CHALLENGE, PHASES)
    assert (open_item.status, open_item.score, open_item.review_id) == (SCORED, 42.0, None)
    assert open_item.test_scores == [{"testcase": 1, "score": 42.0, "runTimeMs": 5.0}]
    store.record_posted("s1", "provisional", review_id="r-1")
    assert len(store.open_work(CHALLENGE, PHASES)) == 1
    store.record_posted("s1", "provisional", summation_id="rs-1")
    assert store.open_work(CHALLENGE, PHASES) == []
    [outcome] = store.outcomes(CHALLENGE)
    assert (outcome.status, outcome.score, dict(outcome.test_scores)) == (SCORED, 42.0, {1: 42.0})


def test_failed_attempts_count_up_to_the_dead_letter_which_a_later_run_may_reopen(db_url: str) -> None:
    store = ScoringStore(engine_for(db_url))
    store.add_submissions([(event("s1", "m1", 1), 1)], ["provisional"])
    assert (
        store.record_failed_attempt("s1", "provisional", "scorer exited with code 2", "pid 1", "run-a", False)
        == 1
    )
    [item] = store.open_work(CHALLENGE, PHASES)
    assert (item.status, item.attempts, item.reason) == (PENDING, 1, "scorer exited with code 2")
    assert (
        store.record_failed_attempt("s1", "provisional", "scorer timed out after 5 s", "pid 2", "run-a", True)
        == 2
    )
    [item] = store.open_work(CHALLENGE, PHASES)  # FAILED, but the API has not been told yet
    assert (item.status, item.failed_posted) == (FAILED, False)
    store.record_posted("s1", "provisional", failed_posted=True)
    assert store.open_work(CHALLENGE, PHASES) == []
    [outcome] = store.outcomes(CHALLENGE)
    assert (outcome.status, outcome.reason) == (FAILED, "scorer timed out after 5 s")

    # a step retried in the same run must not undo its own dead letter; a replay's run does
    assert store.rescore_failed(["s1"], "run-a") == 0
    assert store.rescore_failed(["s1"], "run-b") == 1
    [item] = store.open_work(CHALLENGE, PHASES)
    assert (item.status, item.attempts, item.failed_posted) == (PENDING, 0, False)


def test_the_leaderboard_is_replaced_per_challenge(db_url: str) -> None:
    store = ScoringStore(engine_for(db_url))
    store.add_submissions([(event("s1", "m1", 1), 1), (event("s2", "m2", 2), 2)], ["provisional"])
    store.record_scored("s1", "provisional", result(10.0), "a", 0.1, "run")
    store.record_scored("s2", "provisional", result(20.0), "b", 0.1, "run")
    rows = build_leaderboard(store.outcomes(CHALLENGE))
    store.replace_leaderboard(CHALLENGE, rows)
    store.replace_leaderboard(CHALLENGE, rows)  # a re-materialization writes no second copy
    assert [(r.rank, r.member_id, r.raw_score, r.relative_score) for r in store.leaderboard(CHALLENGE)] == [
        (1, "m2", 20.0, 100.0),
        (2, "m1", 10.0, 50.0),
    ]
    assert store.status_counts(CHALLENGE) == {SCORED: 2}


def test_a_phase_added_later_is_opened_for_earlier_submissions_and_a_removed_one_is_left(db_url: str) -> None:
    store = ScoringStore(engine_for(db_url))
    store.add_submissions([(event("s1", "m1", 1), 1)], ["provisional"])
    store.record_scored("s1", "provisional", result(5.0), "a", 0.1, "run")
    store.record_posted("s1", "provisional", review_id="r", summation_id="rs")
    assert store.add_missing_phases(CHALLENGE, ["provisional", "system"]) == 1
    assert store.add_missing_phases(CHALLENGE, ["provisional", "system"]) == 0
    assert [(w.phase, w.status) for w in store.open_work(CHALLENGE, ["provisional", "system"])] == [
        ("system", PENDING)
    ]
    # the config drops the system phase again: its open row is no longer worked on or expected
    assert store.open_work(CHALLENGE, ["provisional"]) == []
    assert store.expected_phases(CHALLENGE, ["provisional"]) == [("s1", "provisional")]
    assert store.fully_scored(["s1"]) == {}  # the system phase is still open
    store.record_scored("s1", "system", result(6.0), "b", 0.1, "run")
    store.record_posted("s1", "system", review_id="r2", summation_id="rs2")
    assert store.fully_scored(["s1"]) == {"s1": 1}


def test_a_test_reported_with_an_error_counts_as_failed_on_the_leaderboard(db_url: str) -> None:
    store = ScoringStore(engine_for(db_url))
    store.add_submissions([(event("s1", "m1", 1), 1)], ["provisional"])
    reported = {
        "score": 3.0,
        "testScores": [
            {"testcase": 1, "score": 3.0, "runTimeMs": 1},
            {"testcase": 2, "score": 3.0, "runTimeMs": 1, "error": "wrong answer format"},
        ],
    }
    store.record_scored("s1", "provisional", validate_result(reported), "a", 0.1, "run")
    [outcome] = store.outcomes(CHALLENGE)
    assert dict(outcome.test_scores) == {1: 3.0, 2: -1.0}
