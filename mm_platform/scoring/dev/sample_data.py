"""The embedded stack's sample challenges (one MAXIMIZE, one MINIMIZE with three phases), their
sample submissions in moto S3 and a sample submission event."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

MAXIMIZE_CHALLENGE = "5a9c1f2e-7d3b-4e8a-9c61-0f2d4b8e1a01"
MINIMIZE_CHALLENGE = "5a9c1f2e-7d3b-4e8a-9c61-0f2d4b8e1a02"
SAMPLE_PREFIX = "samples/"
# the Submission API stand-in checks this bearer token; the stack stores it as the SecureString
EMBEDDED_API_TOKEN = "embedded-submission-api-token"


def _scorer(problem: str) -> list[str]:
    # `python` is the platform's own interpreter for the local launcher (see local_launcher)
    return ["python", "-m", "mm_platform.scoring.scorer.sample_scorer", "--problem", problem]


def _phase(name: str, start_seed: int, tests: int, review_type: str) -> dict[str, Any]:
    return {
        "name": name,
        "reviewTypeId": review_type,
        "scoreCardId": "30001850",
        "startSeed": start_seed,
        "numberOfTests": tests,
    }


SAMPLE_CONFIGS: dict[str, dict[str, Any]] = {
    MAXIMIZE_CHALLENGE: {
        "challengeId": MAXIMIZE_CHALLENGE,
        "scorerType": "sample-target",
        "ecsCluster": "mm-scorers",
        "ecsTaskDefinition": "mm-sample-scorer:1",
        "timeout": 60,
        "memoryLimit": 512,
        "scoreDirection": "MAXIMIZE",
        "maxConcurrent": 2,
        "command": _scorer("target"),
        "phases": [_phase("provisional", 1, 10, "provisional-review-type")],
    },
    MINIMIZE_CHALLENGE: {
        "challengeId": MINIMIZE_CHALLENGE,
        "scorerType": "sample-distance",
        "ecsCluster": "mm-scorers",
        "ecsTaskDefinition": "mm-sample-scorer:1",
        "timeout": 60,
        "memoryLimit": 512,
        "scoreDirection": "MINIMIZE",
        "maxConcurrent": 2,
        "command": _scorer("distance"),
        "phases": [
            _phase("example", 1, 3, "example-review-type"),
            _phase("provisional", 100, 10, "provisional-review-type"),
            _phase("system", 1000, 20, "system-review-type"),
        ],
    },
}


def sample_key(name: str) -> str:
    return f"{SAMPLE_PREFIX}{name}.zip"


def submission_url(endpoint: str, bucket: str, name: str) -> str:
    """Where the embedded stack serves a sample submission (moto S3 answers unsigned GETs)."""
    return f"{endpoint.rstrip('/')}/{bucket}/{sample_key(name)}"


def submission_event(challenge_id: str, member_id: str, url: str, submission_id: str | None = None) -> dict:
    """A submission event in the seed shape."""
    return {
        "id": submission_id or str(uuid.uuid4()),
        "challengeId": challenge_id,
        "url": url,
        "memberId": member_id,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
    }
