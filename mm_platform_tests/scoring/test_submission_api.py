"""SubmissionApi against the Submission API stand-in, run as `python -m` exactly as the embedded stack
starts it: posts found again for idempotency, the FAILED patch, the bearer token, simulated outages
(503 retried for lookups and PATCH, never for a POST; 500 raised) and the request log."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mm_platform.core.devstack import free_port, stop_process, wait_for_port
from mm_platform.core.services import ServiceError
from mm_platform.scoring.dev.submission_api_standin import TOKEN_ENV, serve
from mm_platform.scoring.rules.config import PhaseConfig
from mm_platform.scoring.rules.scores import (
    ScorerResult,
    TestScore,
    failed_status_payload,
    review_payload,
    review_summation_payload,
)
from mm_platform.scoring.stores.submission_api import SubmissionApi

TOKEN = f"standin-{uuid.uuid4().hex}"
PROVISIONAL = PhaseConfig("provisional", "rt-prov", "sc-1", 1, 2)
SYSTEM = PhaseConfig("system", "rt-sys", "sc-1", 1, 2)
RESULT = ScorerResult(81.5, (TestScore(1, 80.0, 120.0), TestScore(2, 83.0, 95.0)))


@pytest.fixture(scope="module")
def standin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root, port = tmp_path_factory.mktemp("submission-api"), free_port()
    command = [sys.executable, "-m", "mm_platform.scoring.dev.submission_api_standin"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--db", str(root / "api.db")]
    with (root / "standin.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, TOKEN_ENV: TOKEN},  # as the dev stack passes it: not on the command line
            start_new_session=True,
        )
    try:
        wait_for_port("127.0.0.1", port, "submission API stand-in", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process.pid)


@pytest.fixture
def api(standin_url: str) -> SubmissionApi:
    return SubmissionApi(base_url=standin_url, timeout_seconds=5, retries=3)


def new_submission() -> str:
    return f"sub-{uuid.uuid4().hex[:12]}"


def recorded(url: str, path_part: str) -> list[dict[str, Any]]:
    return [r for r in requests.get(f"{url}/_requests", timeout=5).json() if path_part in r["path"]]


def fail_next(url: str, path_prefix: str, status: int, times: int) -> None:
    rule = {"path_prefix": path_prefix, "status": status, "times": times}
    requests.post(f"{url}/_fail", json=rule, timeout=5).raise_for_status()


def test_review_and_summation_are_posted_and_found_again(api: SubmissionApi) -> None:
    submission = new_submission()
    assert api.find_review(submission, "rt-prov", "provisional", token=TOKEN) is None
    assert api.find_review_summation(submission, "provisional", token=TOKEN) is None

    review = api.post_review(review_payload(submission, PROVISIONAL, RESULT, "reviewer-1"), token=TOKEN)
    summation = api.post_review_summation(
        review_summation_payload(submission, PROVISIONAL, 81.5), token=TOKEN
    )
    assert review["id"] and review["score"] == 81.5
    assert summation["id"] and summation["isPassing"] is True and summation["isFinal"] is False

    assert api.find_review(submission, "rt-prov", "provisional", token=TOKEN) == review
    assert api.find_review_summation(submission, "provisional", token=TOKEN) == summation


def test_lookups_match_the_phase_type_and_submission(api: SubmissionApi) -> None:
    submission, other = new_submission(), new_submission()
    api.post_review(review_payload(submission, PROVISIONAL, RESULT, "reviewer-1"), token=TOKEN)
    api.post_review_summation(review_summation_payload(submission, PROVISIONAL, 81.5), token=TOKEN)
    assert api.find_review(submission, "rt-sys", "system", token=TOKEN) is None
    assert api.find_review(submission, "rt-prov", "system", token=TOKEN) is None  # same type, other phase
    assert api.find_review(other, "rt-prov", "provisional", token=TOKEN) is None
    assert api.find_review_summation(submission, "system", token=TOKEN) is None

    final = api.post_review_summation(review_summation_payload(submission, SYSTEM, 0.0), token=TOKEN)
    assert final["isFinal"] is True and final["isPassing"] is False
    assert api.find_review_summation(submission, "system", token=TOKEN) == final


def test_mark_failed_patches_the_submission(api: SubmissionApi, standin_url: str) -> None:
    submission = new_submission()
    answer = api.mark_failed(submission, failed_status_payload("scorer exited with code 3"), token=TOKEN)
    assert answer["status"] == "FAILED" and answer["reason"] == "scorer exited with code 3"
    # the stored status, read back the way an operator would
    headers = {"Authorization": f"Bearer {TOKEN}"}
    stored = requests.get(f"{standin_url}/submissions/{submission}", headers=headers, timeout=5).json()
    assert (stored["id"], stored["status"]) == (submission, "FAILED")


def test_wrong_or_missing_token_is_401(api: SubmissionApi) -> None:
    body = review_payload(new_submission(), PROVISIONAL, RESULT, "reviewer-1")
    for token in ("not-the-token", None):
        with pytest.raises(ServiceError) as raised:
            api.post_review(body, token=token)
        assert raised.value.status == 401
        assert TOKEN not in str(raised.value)


def test_a_token_field_is_overridden_per_call(standin_url: str) -> None:
    api = SubmissionApi(base_url=standin_url, token="stale-token", retries=0)
    submission = new_submission()
    with pytest.raises(ServiceError, match="401"):
        api.find_review_summation(submission, "provisional")
    assert api.find_review_summation(submission, "provisional", token=TOKEN) is None
    assert TOKEN not in repr(api)


def test_a_503_on_a_lookup_or_patch_is_retried_but_a_post_is_never_sent_twice(
    api: SubmissionApi, standin_url: str
) -> None:
    submission = new_submission()
    fail_next(standin_url, "/reviews", 503, 2)
    # GET is safe to repeat: retried until it passes
    assert api.find_review(submission, "rt-prov", "provisional", token=TOKEN) is None
    lookups = [r["status"] for r in recorded(standin_url, "/reviews") if r["method"] == "GET"]
    assert lookups[-3:] == [503, 503, 200]
    # a POST answered 503 may have been stored by the service: it is not re-sent by the client
    fail_next(standin_url, "/reviews", 503, 1)
    with pytest.raises(ServiceError) as raised:
        api.post_review(review_payload(submission, PROVISIONAL, RESULT, "reviewer-1"), token=TOKEN)
    assert raised.value.status == 503
    posts = [r for r in recorded(standin_url, "/reviews") if r["method"] == "POST"]
    assert [r["status"] for r in posts if r["body"]["submissionId"] == submission] == [503]
    review = api.post_review(review_payload(submission, PROVISIONAL, RESULT, "reviewer-1"), token=TOKEN)
    assert api.find_review(submission, "rt-prov", "provisional", token=TOKEN) == review
    fail_next(standin_url, "/submissions", 503, 1)
    api.mark_failed(submission, failed_status_payload("scorer exited with code 3"), token=TOKEN)


def test_500_is_a_service_error_and_not_retried(api: SubmissionApi, standin_url: str) -> None:
    submission = new_submission()
    fail_next(standin_url, "/reviewSummations", 500, 1)
    with pytest.raises(ServiceError) as raised:
        api.post_review_summation(review_summation_payload(submission, PROVISIONAL, 1.0), token=TOKEN)
    assert raised.value.status == 500
    assert api.find_review_summation(submission, "provisional", token=TOKEN) is None
    assert api.post_review_summation(review_summation_payload(submission, PROVISIONAL, 1.0), token=TOKEN)


def test_requests_are_recorded_without_the_token(api: SubmissionApi, standin_url: str) -> None:
    submission = new_submission()
    api.mark_failed(submission, failed_status_payload("scorer timed out after 600 s"), token=TOKEN)
    api.find_review(submission, "rt-prov", "provisional", token=TOKEN)
    mine = recorded(standin_url, submission)
    assert [(r["method"], r["status"]) for r in mine] == [("PATCH", 200), ("GET", 200)]
    assert mine[0]["path"] == f"/submissions/{submission}"
    assert mine[0]["body"] == {"status": "FAILED", "reason": "scorer timed out after 600 s"}
    assert mine[1]["path"].startswith(f"/reviews?submissionId={submission}&")
    assert TOKEN not in requests.get(f"{standin_url}/_requests", timeout=5).text


def test_body_without_submission_id_is_400(api: SubmissionApi) -> None:
    with pytest.raises(ServiceError) as raised:
        api.post_review({"score": 1.0}, token=TOKEN)
    assert raised.value.status == 400


def test_for_base_url_aims_one_challenge_elsewhere(standin_url: str) -> None:
    api = SubmissionApi(base_url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2, retries=0)
    assert api.for_base_url(None) is api
    moved = api.for_base_url(standin_url)
    assert (moved.base_url, moved.timeout_seconds, moved.retries) == (standin_url, 2, 0)
    assert moved.find_review(new_submission(), "rt-prov", "provisional", token=TOKEN) is None
    with pytest.raises(ServiceError) as raised:  # the original still points at nothing
        api.find_review(new_submission(), "rt-prov", "provisional", token=TOKEN)
    assert raised.value.status is None


def test_standin_without_a_token_needs_no_auth(tmp_path: Path) -> None:
    server = serve("127.0.0.1", 0, str(tmp_path / "api.db"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = SubmissionApi(base_url=f"http://127.0.0.1:{server.server_address[1]}", retries=0)
        submission = new_submission()
        review = api.post_review(review_payload(submission, PROVISIONAL, RESULT, "reviewer-1"))
        assert api.find_review(submission, "rt-prov", "provisional") == review
    finally:
        server.shutdown()
        server.server_close()
