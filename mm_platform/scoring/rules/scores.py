"""A scorer's reported result and what the Submission API gets (spec §3, §4). Pure: no Dagster, no I/O.

`validate_result` refuses a result before anything is written (NaN, infinite, beyond ±9.2e18, wrong
shape); the payload builders give the review, the review summation and the FAILED status update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mm_platform.scoring.rules import fields
from mm_platform.scoring.rules.config import PhaseConfig
from mm_platform.scoring.rules.fields import FieldError

# spec §3: beyond this a score no longer fits the API's 64-bit storage
MAX_ABS_SCORE = 9.2e18
FAILED_TEST_SCORE = -1.0
MAX_ERROR_CHARS = 1000
MAX_RUN_TIME_MS = 7 * 24 * 3600 * 1000
# the inbox keeps 500 characters of reason; the API gets the same text
MAX_REASON_CHARS = 500
FAILED = "FAILED"


class ScoreRefused(ValueError):
    """The scorer's report cannot be accepted: the submission is FAILED with this reason."""


@dataclass(frozen=True)
class TestScore:
    testcase: int | str
    score: float
    run_time_ms: float
    error: str | None = None

    __test__ = False  # not a pytest test class despite the name

    @property
    def failed(self) -> bool:
        """A failed test has score -1 and an error (spec §3); any negative score counts as failed (§6)."""
        return self.score < 0 or self.error is not None

    def as_reported(self) -> dict[str, Any]:
        """The test's entry as the review's metadata carries it."""
        entry: dict[str, Any] = {
            "testcase": self.testcase,
            "score": self.score,
            "runTimeMs": self.run_time_ms,
        }
        if self.error is not None:
            entry["error"] = self.error
        return entry


@dataclass(frozen=True)
class ScorerResult:
    score: float
    test_scores: tuple[TestScore, ...]

    @property
    def failed_tests(self) -> int:
        return sum(test.failed for test in self.test_scores)


def validate_result(reported: Any, expected_tests: int | None = None) -> ScorerResult:
    """The scorer's `{"score", "testScores"}` report as a ScorerResult, or ScoreRefused naming the field.
    With `expected_tests` (the phase's numberOfTests) a report of another number of tests is refused."""
    try:
        return _validate(reported, expected_tests)
    except FieldError as error:
        raise ScoreRefused(f"score refused: {error}") from None


def _validate(reported: Any, expected_tests: int | None) -> ScorerResult:
    if not isinstance(reported, Mapping):
        raise FieldError("result", f"must be an object, got {fields.type_name(reported)}")
    if "score" not in reported:
        raise FieldError("score", "is missing")
    score = fields.finite_number(reported["score"], "score", MAX_ABS_SCORE)
    tests = reported.get("testScores")
    if not isinstance(tests, list):
        raise FieldError("testScores", f"must be an array, got {fields.type_name(tests)}")
    test_scores = tuple(_test_score(item, f"testScores[{i}]") for i, item in enumerate(tests))
    cases = [test.testcase for test in test_scores]
    if len(set(cases)) != len(cases):
        raise FieldError("testScores", "reports a test case twice")
    if expected_tests is not None and len(test_scores) != expected_tests:
        raise FieldError("testScores", f"has {len(test_scores)} tests, the phase has {expected_tests}")
    return ScorerResult(score, test_scores)


def _test_score(item: Any, where: str) -> TestScore:
    if not isinstance(item, Mapping):
        raise FieldError(where, f"must be an object, got {fields.type_name(item)}")
    for name in ("testcase", "score", "runTimeMs"):
        if item.get(name) is None:
            raise FieldError(f"{where}.{name}", "is missing")
    case = item["testcase"]
    testcase = fields.integer(case, f"{where}.testcase") if not isinstance(case, str) else case.strip()
    if isinstance(testcase, str) and not 0 < len(testcase) <= fields.MAX_ID_LENGTH:
        raise FieldError(f"{where}.testcase", f"must have 1 to {fields.MAX_ID_LENGTH} characters")
    error = item.get("error")
    if error is not None and not isinstance(error, str):
        raise FieldError(f"{where}.error", f"must be a string, got {fields.type_name(error)}")
    return TestScore(
        testcase=testcase,
        score=fields.finite_number(item["score"], f"{where}.score", MAX_ABS_SCORE),
        run_time_ms=_run_time(item["runTimeMs"], f"{where}.runTimeMs"),
        # a long stack trace is cut, not refused: it should not fail an otherwise scored submission
        error=None if error is None else fields.storable(error[:MAX_ERROR_CHARS]),
    )


def _run_time(value: Any, field: str) -> float:
    run_time = fields.finite_number(value, field, MAX_RUN_TIME_MS)
    if run_time < 0:
        raise FieldError(field, "must not be negative")
    return run_time


def review_payload(submission_id: str, phase: PhaseConfig, result: ScorerResult, reviewer_id: str) -> dict:
    """`POST /reviews` body for one phase's successful scoring (spec §4)."""
    return {
        "submissionId": submission_id,
        "scoreCardId": phase.score_card_id,
        "reviewerId": reviewer_id,
        "typeId": phase.review_type_id,
        "score": result.score,
        "status": "completed",
        "metadata": {
            "testType": phase.name,
            "testScores": [test.as_reported() for test in result.test_scores],
        },
    }


def review_summation_payload(submission_id: str, phase: PhaseConfig, aggregate_score: float) -> dict:
    """`POST /reviewSummations` body: passing when the aggregate is positive, final in the system phase."""
    return {
        "submissionId": submission_id,
        "scoreCardId": phase.score_card_id,
        "aggregateScore": aggregate_score,
        "isPassing": aggregate_score > 0,
        "isFinal": phase.is_final,
        "metadata": {"testType": phase.name},
    }


def failed_status_payload(reason: str) -> dict:
    """`PATCH /submissions/{id}` body marking the submission FAILED with the (bounded) reason."""
    return {"status": FAILED, "reason": bounded_reason(reason)}


def bounded_reason(reason: str) -> str:
    reason = " ".join(reason.split()) or "unknown failure"
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


# the four failures of spec §4, worded alike wherever they are shown (inbox, API, dead letters)
def exit_code_failure(exit_code: int) -> str:
    return f"scorer exited with code {exit_code}"


def timeout_failure(timeout_seconds: int) -> str:
    return f"scorer timed out after {timeout_seconds} s"


def launch_failure(detail: str) -> str:
    return bounded_reason(f"scorer launch failed: {detail}")


def scorer_extras(submission_id: str, challenge_id: str, url: str, phase: PhaseConfig) -> dict[str, Any]:
    """What the scorer gets as Dagster Pipes extras (spec §3): the submission, its URL, the phase, its
    seeds and test count. No token or secret ever goes here (extras are visible in the run)."""
    return {
        "submission_id": submission_id,
        "challenge_id": challenge_id,
        "url": url,
        "phase": phase.name,
        "start_seed": phase.start_seed,
        "number_of_tests": phase.number_of_tests,
        "seeds": list(phase.seeds),
    }


def scorer_environment(extras: Mapping[str, Any]) -> dict[str, str]:
    """The same as environment variables for scorers that do not read Pipes; seeds as start and count
    only, because a list of 10,000 seeds would not fit ECS's 8 KiB container overrides."""
    names = ("submission_id", "challenge_id", "url", "phase", "start_seed", "number_of_tests")
    return {f"MM_{name.upper()}": str(extras[name]) for name in names}
