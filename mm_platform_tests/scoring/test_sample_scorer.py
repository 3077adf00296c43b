"""The sample scorer as a person runs it (MM_* environment, JSON on stdout): real processes, real HTTP.
Its Pipes path is covered by test_local_launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.scoring.dev.sample_submissions import (
    broken_submission,
    crashing_submission,
    good_submission,
    zip_of,
)
from mm_platform.scoring.rules.scores import validate_result
from mm_platform.scoring.scorer.problems import target
from mm_platform.scoring.scorer.runner import overall_score
from mm_platform_tests.scoring.submission_server import SubmissionServer, serve_submissions

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
SCORER = [sys.executable, "-m", "mm_platform.scoring.scorer.sample_scorer"]


@pytest.fixture(scope="module")
def server() -> Iterator[SubmissionServer]:
    with serve_submissions() as running:
        yield running


def run_scorer(
    url: str, *options: str, start_seed: int = 1, tests: int = 10
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": PROJECT_ROOT,
        "MM_URL": url,
        "MM_START_SEED": str(start_seed),
        "MM_NUMBER_OF_TESTS": str(tests),
    }
    env.pop("DAGSTER_PIPES_CONTEXT", None)
    return subprocess.run([*SCORER, *options], env=env, capture_output=True, text=True, timeout=60)


def report_of(completed: subprocess.CompletedProcess[str]) -> dict:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_good_submission_scores_every_test_by_its_miss(server: SubmissionServer) -> None:
    report = report_of(run_scorer(server.put("good90.zip", good_submission(90))))

    result = validate_result(report, expected_tests=10)
    # quality 90 misses the target by 10 * (1 + seed % 3)
    expected = [1000 - 10 * (1 + seed % 3) for seed in range(1, 11)]
    assert [test.testcase for test in result.test_scores] == list(range(1, 11))
    assert [test.score for test in result.test_scores] == expected
    assert result.score == sum(expected) / 10
    assert result.failed_tests == 0
    assert all(test.run_time_ms > 0 for test in result.test_scores)


def test_a_better_submission_scores_higher_and_a_rerun_scores_the_same(server: SubmissionServer) -> None:
    url = server.put("good50.zip", good_submission(50))
    first = report_of(run_scorer(url, start_seed=100, tests=3))
    again = report_of(run_scorer(url, start_seed=100, tests=3))
    perfect = report_of(run_scorer(server.put("good100.zip", good_submission(100)), start_seed=100, tests=3))

    assert [t["score"] for t in first["testScores"]] == [t["score"] for t in again["testScores"]]
    assert perfect["score"] == 1000 > first["score"]


def test_distance_problem_reports_the_miss_to_minimize(server: SubmissionServer) -> None:
    report = report_of(run_scorer(server.put("good80.zip", good_submission(80)), "--problem", "distance"))

    expected = [20 * (1 + seed % 3) for seed in range(1, 11)]
    assert [test["score"] for test in report["testScores"]] == expected
    assert report["score"] == sum(expected) / 10
    validate_result(report, expected_tests=10)


def test_broken_submission_fails_the_tests_it_cannot_answer(server: SubmissionServer) -> None:
    report = report_of(run_scorer(server.put("broken.zip", broken_submission())))

    result = validate_result(report, expected_tests=10)
    failed = {test.testcase: test.error for test in result.test_scores if test.failed}
    assert sorted(failed) == [3, 5, 6, 9, 10]
    assert "ValueError: cannot handle seed 3" in (failed[3] or "")
    assert "printed no number" in (failed[5] or "")
    assert all(test.score == -1 for test in result.test_scores if test.failed)
    # the mean of the five perfect tests: failed tests do not drag the score down
    assert result.score == 1000


def test_solution_over_the_time_limit_fails_that_test_only(server: SubmissionServer) -> None:
    solution = "import sys, time\nif int(sys.stdin.read()) == 2:\n    time.sleep(30)\nprint(1)\n"
    slow = zip_of({"solution.py": solution})
    report = report_of(run_scorer(server.put("slow.zip", slow), "--time-limit", "0.5", tests=2))

    first, second = report["testScores"]
    assert first["score"] == 1000 - abs(1 - target(1)) and "error" not in first
    assert second["score"] == -1 and "time limit" in second["error"]
    assert second["runTimeMs"] < 5000


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("crashing.zip", crashing_submission(), "not a valid zip"),
        ("empty.zip", zip_of({"README.md": "no solution here"}), "no solution.py"),
        (None, b"", "HTTP 404"),
    ],
    ids=["not-a-zip", "no-solution", "not-found"],
)
def test_submission_that_cannot_be_scored_exits_non_zero(
    server: SubmissionServer, name: str | None, data: bytes, message: str
) -> None:
    url = server.put(name, data) if name else f"{server.url}/missing.zip"
    completed = run_scorer(url)

    assert completed.returncode == 2
    assert message in completed.stderr
    assert completed.stdout == ""


def test_non_http_url_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "good.zip"
    path.write_bytes(good_submission(90))
    completed = run_scorer(path.as_uri())

    assert completed.returncode == 2
    assert "must be http(s)" in completed.stderr


def test_moto_serves_a_submission_to_an_unsigned_get_only_when_public_or_presigned(
    moto_endpoint: str,
) -> None:
    """The embedded stack serves submissions from moto S3: a plain GET of {endpoint}/{bucket}/{key} is
    refused (403) for a private object, so it must upload with ACL public-read or hand out a presigned
    URL; both reach the scorer."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **EMBEDDED_CREDENTIALS)
    bucket = f"submissions-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="private.zip", Body=good_submission(100))
    s3.put_object(Bucket=bucket, Key="public.zip", Body=good_submission(100), ACL="public-read")
    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "private.zip"}, ExpiresIn=600
    )

    refused = run_scorer(f"{moto_endpoint}/{bucket}/private.zip", tests=1)
    assert refused.returncode == 2 and "HTTP 403" in refused.stderr
    assert report_of(run_scorer(f"{moto_endpoint}/{bucket}/public.zip", tests=2))["score"] == 1000
    assert report_of(run_scorer(presigned, tests=2))["score"] == 1000


def test_overall_score_is_zero_when_every_test_failed() -> None:
    failed = [{"testcase": 1, "score": -1, "runTimeMs": 1, "error": "boom"}]
    assert overall_score(failed) == 0.0
    assert overall_score([*failed, {"testcase": 2, "score": 4, "runTimeMs": 1}]) == 4


def test_sample_submissions_are_deterministic() -> None:
    assert good_submission(70) == good_submission(70) != good_submission(71)
    assert broken_submission() == broken_submission()
    with pytest.raises(ValueError, match="quality"):
        good_submission(101)
