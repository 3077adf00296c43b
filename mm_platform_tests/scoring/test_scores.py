"""A scorer's report (spec §3) and the Submission API payloads (spec §4)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_platform.scoring.rules.config import PhaseConfig
from mm_platform.scoring.rules.scores import (
    MAX_REASON_CHARS,
    ScoreRefused,
    ScorerResult,
    TestScore,
    bounded_reason,
    exit_code_failure,
    failed_status_payload,
    launch_failure,
    review_payload,
    review_summation_payload,
    scorer_environment,
    scorer_extras,
    timeout_failure,
    validate_result,
)

PROVISIONAL = PhaseConfig("provisional", "rt-prov", "sc-1", start_seed=100, number_of_tests=3)
SYSTEM = PhaseConfig("system", "rt-sys", "sc-1", start_seed=1000, number_of_tests=3)


def report(**changes: Any) -> dict[str, Any]:
    reported = {
        "score": 71.5,
        "testScores": [
            {"testcase": 100, "score": 90.0, "runTimeMs": 120},
            {"testcase": 101, "score": 53.0, "runTimeMs": 80.5},
            {"testcase": 102, "score": -1, "runTimeMs": 10000, "error": "Time limit exceeded"},
        ],
    }
    reported.update(changes)
    return reported


def refusal(reported: Any, expected_tests: int | None = None) -> str:
    with pytest.raises(ScoreRefused) as caught:
        validate_result(reported, expected_tests)
    return str(caught.value)


def test_a_good_report_with_a_failed_test() -> None:
    result = validate_result(report(), expected_tests=3)
    assert result.score == 71.5
    assert [t.testcase for t in result.test_scores] == [100, 101, 102]
    assert [t.failed for t in result.test_scores] == [False, False, True]
    assert result.failed_tests == 1
    assert result.test_scores[2].error == "Time limit exceeded"


@pytest.mark.parametrize(
    ("score", "reason"),
    [
        (float("nan"), "score must be a finite number, got nan"),
        (float("inf"), "score must be a finite number, got inf"),
        (float("-inf"), "score must be a finite number, got -inf"),
        (1e29, "score is beyond ±9.2e+18"),
        (-1e29, "score is beyond ±9.2e+18"),
        (10**400, "score is beyond ±9.2e+18"),
        ("71.5", "score must be a number, got a string"),
        (True, "score must be a number, got a boolean"),
        (None, "score must be a number, got null"),
    ],
)
def test_unusable_scores_are_refused_with_the_reason(score: Any, reason: str) -> None:
    assert refusal(report(score=score)) == f"score refused: {reason}"


def test_the_bound_itself_is_accepted() -> None:
    assert validate_result(report(score=9.2e18)).score == 9.2e18
    assert validate_result(report(score=-9.2e18)).score == -9.2e18


@pytest.mark.parametrize(
    ("test_score", "reason"),
    [
        (
            {"testcase": 1, "score": float("nan"), "runTimeMs": 1},
            "testScores[0].score must be a finite number",
        ),
        (
            {"testcase": 1, "score": float("inf"), "runTimeMs": 1},
            "testScores[0].score must be a finite number",
        ),
        ({"testcase": 1, "score": 1e29, "runTimeMs": 1}, "testScores[0].score is beyond"),
        ({"testcase": 1, "runTimeMs": 1}, "testScores[0].score is missing"),
        ({"score": 1, "runTimeMs": 1}, "testScores[0].testcase is missing"),
        ({"testcase": 1, "score": 1}, "testScores[0].runTimeMs is missing"),
        ({"testcase": 1, "score": 1, "runTimeMs": -5}, "testScores[0].runTimeMs must not be negative"),
        ({"testcase": True, "score": 1, "runTimeMs": 1}, "testScores[0].testcase must be an integer"),
        ({"testcase": "", "score": 1, "runTimeMs": 1}, "testScores[0].testcase must have 1 to 64"),
        ({"testcase": 1, "score": 1, "runTimeMs": 1, "error": 42}, "testScores[0].error must be a string"),
        ("seed 1: 90", "testScores[0] must be an object, got a string"),
    ],
)
def test_bad_test_scores_are_refused(test_score: Any, reason: str) -> None:
    assert reason in refusal(report(testScores=[test_score]))


@pytest.mark.parametrize(
    ("reported", "reason"),
    [
        ([1, 2], "result must be an object, got an array"),
        ({"testScores": []}, "score is missing"),
        ({"score": 1}, "testScores must be an array, got null"),
        ({"score": 1, "testScores": {"1": 2}}, "testScores must be an array, got an object"),
    ],
)
def test_bad_report_shapes_are_refused(reported: Any, reason: str) -> None:
    assert reason in refusal(reported)


def test_a_test_case_reported_twice_is_refused() -> None:
    tests = [{"testcase": 1, "score": 1, "runTimeMs": 1}] * 2
    assert "reports a test case twice" in refusal(report(testScores=tests))


def test_a_report_with_the_wrong_number_of_tests_is_refused() -> None:
    assert "has 3 tests, the phase has 10" in refusal(report(), expected_tests=10)


def test_a_long_error_is_cut_not_refused() -> None:
    tests = [{"testcase": 1, "score": -1, "runTimeMs": 1, "error": "x" * 50_000}]
    result = validate_result(report(testScores=tests))
    assert len(result.test_scores[0].error or "") == 1000


def test_an_error_with_odd_bytes_is_made_storable() -> None:
    tests = [{"testcase": 1, "score": -1, "runTimeMs": 1, "error": "bad\x00 \ud800 byte"}]
    error = validate_result(report(testScores=tests)).test_scores[0].error or ""
    assert "\x00" not in error
    error.encode("utf-8")


def test_review_payload_follows_the_spec() -> None:
    result = validate_result(report())
    assert review_payload("sub-1", PROVISIONAL, result, reviewer_id="mm-platform") == {
        "submissionId": "sub-1",
        "scoreCardId": "sc-1",
        "reviewerId": "mm-platform",
        "typeId": "rt-prov",
        "score": 71.5,
        "status": "completed",
        "metadata": {
            "testType": "provisional",
            "testScores": [
                {"testcase": 100, "score": 90.0, "runTimeMs": 120.0},
                {"testcase": 101, "score": 53.0, "runTimeMs": 80.5},
                {"testcase": 102, "score": -1.0, "runTimeMs": 10000.0, "error": "Time limit exceeded"},
            ],
        },
    }


@pytest.mark.parametrize(
    ("phase", "aggregate", "passing", "final"),
    [(PROVISIONAL, 71.5, True, False), (SYSTEM, 71.5, True, True), (PROVISIONAL, 0.0, False, False)],
)
def test_summation_is_passing_above_zero_and_final_in_system(
    phase: PhaseConfig, aggregate: float, passing: bool, final: bool
) -> None:
    assert review_summation_payload("sub-1", phase, aggregate) == {
        "submissionId": "sub-1",
        "scoreCardId": "sc-1",
        "aggregateScore": aggregate,
        "isPassing": passing,
        "isFinal": final,
        "metadata": {"testType": phase.name},
    }


def test_failures_are_worded_alike_and_bounded() -> None:
    assert exit_code_failure(137) == "scorer exited with code 137"
    assert timeout_failure(600) == "scorer timed out after 600 s"
    assert launch_failure("RunTask: no capacity") == "scorer launch failed: RunTask: no capacity"
    assert failed_status_payload("scorer exited with code 1") == {
        "status": "FAILED",
        "reason": "scorer exited with code 1",
    }
    long_reason = failed_status_payload("trace\n" * 1000)["reason"]
    assert len(long_reason) == MAX_REASON_CHARS and "\n" not in long_reason
    assert bounded_reason("   ") == "unknown failure"


def test_refused_score_reason_is_what_the_submission_is_failed_with() -> None:
    reason = refusal(report(score=float("nan")))
    assert failed_status_payload(reason)["reason"] == "score refused: score must be a finite number, got nan"


def test_test_score_knows_failure_from_error_or_negative_score() -> None:
    assert TestScore(1, -1.0, 5.0, "crash").failed
    assert TestScore(1, -0.5, 5.0).failed
    assert not TestScore(1, 0.0, 5.0).failed
    assert ScorerResult(0.0, ()).failed_tests == 0


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["score", "testScores"]),
        _values
        | st.lists(
            st.dictionaries(st.sampled_from(["testcase", "score", "runTimeMs", "error"]), _values), max_size=3
        ),
    )
)
def test_any_report_is_accepted_or_refused_never_a_crash(reported: dict[str, Any]) -> None:
    try:
        result = validate_result(reported)
    except ScoreRefused as error:
        assert str(error).startswith("score refused: ")
    else:
        assert isinstance(result, ScorerResult)


def test_scorer_gets_submission_url_phase_seeds_and_test_count() -> None:
    extras = scorer_extras("sub-1", "30054692", "https://h/s.zip", PROVISIONAL)
    assert extras == {
        "submission_id": "sub-1",
        "challenge_id": "30054692",
        "url": "https://h/s.zip",
        "phase": "provisional",
        "start_seed": 100,
        "number_of_tests": 3,
        "seeds": [100, 101, 102],
    }
    assert scorer_environment(extras) == {
        "MM_SUBMISSION_ID": "sub-1",
        "MM_CHALLENGE_ID": "30054692",
        "MM_URL": "https://h/s.zip",
        "MM_PHASE": "provisional",
        "MM_START_SEED": "100",
        "MM_NUMBER_OF_TESTS": "3",
    }
