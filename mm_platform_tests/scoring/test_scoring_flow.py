"""Submission events to scores, reviews and the leaderboard through the real broker, moto (SSM, S3),
the Submission API stand-in over HTTP, real scorer processes (Dagster Pipes) and SQLite/PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from click.testing import CliRunner
from dagster import (
    DagsterInstance,
    Definitions,
    instance_for_test,
)

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.devstack import free_port
from mm_platform.core.inbox import EventInbox, InboxEvent, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sensors import INBOX_IDS_TAG
from mm_platform.core.settings import Settings
from mm_platform.core.sql import dispose_engine, engine_for
from mm_platform.definitions import build_definitions
from mm_platform.domains import DOMAINS
from mm_platform.scoring.dev.cli import scoring
from mm_platform.scoring.dev.sample_data import SAMPLE_CONFIGS, submission_event
from mm_platform.scoring.dev.stack import sample_submissions
from mm_platform.scoring.dev.submission_api_standin import serve
from mm_platform.scoring.rules.leaderboard import FAILED, SCORED
from mm_platform.scoring.stores.config_store import ChallengeConfigStore
from mm_platform.scoring.stores.scores_store import ScoringStore
from mm_platform_tests.runs import evaluate_schedule, evaluate_sensor, execute_and_settle

JOB = "scoring_challenge_job"
SENSOR = "scoring_submission_sensor"
RETRY_SCHEDULE = "scoring_submission_retry"
TOKEN = "test-token-" + uuid.uuid4().hex[:8]
BUCKET = "scoring-flow-submissions"


@dataclass
class Scoring:
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    kafka: KafkaResource
    topic: str
    api_url: str
    aws: str
    challenges: dict[str, str]  # "max" / "min" -> challenge id of this test
    cursor: str | None = None
    made: int = 0
    runs: list[Any] = field(default_factory=list)

    @property
    def inbox(self) -> EventInbox:
        inbox = EventInbox(engine_for(self.settings.platform_db_url))
        inbox.create_schema()
        return inbox

    @property
    def store(self) -> ScoringStore:
        return ScoringStore(engine_for(self.settings.platform_db_url))

    def url(self, name: str) -> str:
        return f"{self.aws}/{BUCKET}/samples/{name}.zip"

    def submission(self, kind: str, member: str, name: str = "good-1", **overrides: Any) -> dict:
        """A seed-shape event; each one created a second after the previous (a later one supersedes)."""
        self.made += 1
        created = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=self.made)
        event = submission_event(self.challenges[kind], member, self.url(name))
        return {**event, "created": created.isoformat(), **overrides}

    def publish(self, *values: dict | str | bytes) -> None:
        encoded = [
            v if isinstance(v, bytes) else (v if isinstance(v, str) else json.dumps(v)).encode()
            for v in values
        ]
        self.kafka.produce(self.topic, encoded)

    def tick(self):
        result = evaluate_sensor(self.defs, self.instance, SENSOR, self.cursor)
        self.cursor = result.cursor
        return result

    def retry_tick(self):
        return evaluate_schedule(self.defs, self.instance, RETRY_SCHEDULE)

    def run(self, request):
        result = execute_and_settle(self.defs, self.instance, request, JOB)
        self.runs.append(result)
        return result

    def events(self) -> list[InboxEvent]:
        return self.inbox.select(topic=self.topic, limit=1000)

    def api(self, path: str, **params: Any) -> Any:
        answer = requests.get(
            f"{self.api_url}{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        answer.raise_for_status()
        return answer.json()

    def api_requests(self) -> list[dict]:
        return requests.get(f"{self.api_url}/_requests", timeout=10).json()

    def fail_api(self, path_prefix: str, status: int, times: int) -> None:
        requests.post(
            f"{self.api_url}/_fail",
            json={"path_prefix": path_prefix, "status": status, "times": times},
            timeout=10,
        ).raise_for_status()


def moto_s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **EMBEDDED_CREDENTIALS)


@pytest.fixture(scope="module")
def samples_bucket(moto_endpoint: str) -> str:
    s3 = moto_s3(moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    for name, body in sample_submissions().items():
        s3.put_object(Bucket=BUCKET, Key=f"samples/{name}.zip", Body=body, ACL="public-read")
    return BUCKET


def put_configs(moto_endpoint: str, configs: dict[str, dict]) -> None:
    """The challenges' configs and the API token in moto's SSM, as the embedded stack stores them."""
    store = ChallengeConfigStore(endpoint_url=moto_endpoint, region_name="us-east-1", **EMBEDDED_CREDENTIALS)
    for challenge_id, config in configs.items():
        store.put_config(challenge_id, config)
    store.put_token(TOKEN)


def challenge_configs(**changes: Any) -> dict[str, dict]:
    """Fresh ids for this test's two challenges (the config cache is per process), the samples' shape."""
    made = {}
    for kind, sample in zip(("max", "min"), SAMPLE_CONFIGS.values(), strict=True):
        config = copy.deepcopy(sample)
        config["challengeId"] = f"{kind}-{uuid.uuid4().hex[:10]}"
        config.update(changes.get(kind, {}))
        made[config["challengeId"]] = config
    return made


@pytest.fixture
def api_standin(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    server = serve("127.0.0.1", port, str(tmp_path / "api.db"), TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@contextmanager
def open_scoring(
    kafka: KafkaResource,
    topic: str,
    db_url: str,
    moto: str,
    api_url: str,
    tmp_path: Path,
    **config_changes: Any,
) -> Iterator[Scoring]:
    configs = challenge_configs(**config_changes)
    put_configs(moto, configs)
    env = {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_SCORING_TOPIC": topic,
        "MM_PLATFORM_PLATFORM_DB_URL": db_url,
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto,
        "MM_PLATFORM_SCORING_SUBMISSION_API_URL": api_url,
        "MM_PLATFORM_SENSOR_MAX_SECONDS": "10",
    }
    settings = Settings.from_env(env, sections=[d.settings for d in DOMAINS])
    ids = list(configs)
    with instance_for_test() as instance:
        yield Scoring(
            settings,
            build_definitions(settings),
            instance,
            kafka,
            topic,
            api_url,
            moto,
            {"max": ids[0], "min": ids[1]},
        )


@pytest.fixture
def flow(
    kafka: KafkaResource,
    topic: str,
    db_url: str,
    moto_endpoint: str,
    api_standin: str,
    samples_bucket: str,
    tmp_path: Path,
) -> Iterator[Scoring]:
    with open_scoring(kafka, topic, db_url, moto_endpoint, api_standin, tmp_path) as scoring_flow:
        yield scoring_flow


@pytest.fixture
def sqlite_flow(
    kafka: KafkaResource,
    topic: str,
    moto_endpoint: str,
    api_standin: str,
    samples_bucket: str,
    tmp_path: Path,
) -> Iterator[Scoring]:
    """The flow on SQLite only: for behaviour the database does not change (the store, the inbox and
    the flows that write odd values run on PostgreSQL too)."""
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    with open_scoring(kafka, topic, url, moto_endpoint, api_standin, tmp_path) as scoring_flow:
        yield scoring_flow
    dispose_engine(url)


def test_submissions_are_scored_posted_and_ranked_with_the_latest_submission_counting(flow: Scoring) -> None:
    first = flow.submission("max", "m1", "good-4")
    second = flow.submission("max", "m2", "good-2")
    again = flow.submission("max", "m1", "good-1")  # m1 submits again: the later one counts
    flow.publish(first, second, again)
    result = flow.tick()
    [request] = result.run_requests
    challenge = flow.challenges["max"]
    assert request.partition_key == challenge
    assert flow.instance.get_dynamic_partitions("scoring_challenge") == [challenge]
    events = flow.events()
    assert [e.status for e in events] == [Status.NEW] * 3
    assert request.tags[INBOX_IDS_TAG] == ",".join(str(e.id) for e in events)

    run = flow.run(request)
    assert run.success
    assert run.dagster_run.tags["mm_platform/pool"] == "scoring"  # the run queue's scoring pool
    assert [e.status for e in flow.events()] == [Status.HANDLED] * 3

    statuses = flow.store.phase_statuses(challenge)
    assert {(sid, phase, status) for sid, phase, status in statuses} == {
        (s["id"], "provisional", SCORED) for s in (first, second, again)
    }
    # the API got one review and one summation per submission, in the spec's shape, with the token
    for submission in (first, second, again):
        [review] = flow.api("/reviews", submissionId=submission["id"])
        assert review["typeId"] == "provisional-review-type"
        assert review["scoreCardId"] == "30001850"
        assert review["status"] == "completed"
        assert review["metadata"]["testType"] == "provisional"
        assert len(review["metadata"]["testScores"]) == 10
        [summation] = flow.api("/reviewSummations", submissionId=submission["id"])
        assert summation["aggregateScore"] == review["score"]
        assert summation["isPassing"] is (review["score"] > 0)
        assert summation["isFinal"] is False

    rows = flow.store.leaderboard(challenge)
    assert [(r.member_id, r.submission_id) for r in rows] == [("m1", again["id"]), ("m2", second["id"])]
    assert rows[0].relative_score == pytest.approx(
        100.0 * _mean_relative(flow, again["id"], [again["id"], second["id"]])
    )
    assert rows[0].raw_score > rows[1].raw_score

    # a second delivery of a submission is a duplicate: IGNORED, no run, no second review
    flow.publish(second)
    assert flow.tick().run_requests == []
    assert flow.events()[-1].status is Status.IGNORED
    assert len(flow.api("/reviews", submissionId=second["id"])) == 1


def _mean_relative(flow: Scoring, submission_id: str, counted: list[str]) -> float:
    """MAXIMIZE relative score by hand from the posted reviews: mean over tests of score / best."""
    tests = {
        sid: {
            t["testcase"]: t["score"]
            for t in flow.api("/reviews", submissionId=sid)[0]["metadata"]["testScores"]
        }
        for sid in counted
    }
    mine = tests[submission_id]
    return sum(
        (mine[c] / max(t[c] for t in tests.values())) if max(t[c] for t in tests.values()) > 0 else 0
        for c in mine
    ) / len(mine)


def test_a_minimize_challenge_is_scored_in_each_of_its_three_phases(sqlite_flow: Scoring) -> None:
    flow = sqlite_flow
    subs = [flow.submission("min", f"m{i}", f"good-{i}") for i in (1, 2, 3)]
    flow.publish(*subs)
    [request] = flow.tick().run_requests
    assert flow.run(request).success
    challenge = flow.challenges["min"]
    rows = flow.store.leaderboard(challenge)
    assert sorted({r.phase for r in rows}) == ["example", "provisional", "system"]
    for phase in ("example", "provisional", "system"):
        ranked = [r for r in rows if r.phase == phase]
        # MINIMIZE: the smallest distance ranks first; the best member's relative score is the highest
        assert [r.member_id for r in ranked] == ["m1", "m2", "m3"]
        assert ranked[0].raw_score < ranked[1].raw_score < ranked[2].raw_score
    reviews = {r["metadata"]["testType"]: r for r in flow.api("/reviews", submissionId=subs[0]["id"])}
    assert {k: len(v["metadata"]["testScores"]) for k, v in reviews.items()} == {
        "example": 3,
        "provisional": 10,
        "system": 20,
    }
    summations = {
        s["metadata"]["testType"]: s["isFinal"]
        for s in flow.api("/reviewSummations", submissionId=subs[0]["id"])
    }
    assert summations == {"example": False, "provisional": False, "system": True}


def test_bad_and_foreign_events_are_settled_at_ingest_and_start_no_run(flow: Scoring) -> None:
    good = flow.submission("max", "m1")
    review = {
        "topic": "submission.notification.create",
        "originator": "submission-api",
        "timestamp": "2026-11-30T00:00:00Z",
        "mime-type": "application/json",
        "payload": {"resource": "review", "id": "r1", "submissionId": good["id"]},
    }
    published = {
        "bad json": b"{not json",
        "missing fields": {"id": "x"},
        "ftp url": flow.submission("max", "m2", url="ftp://files/s.zip"),
        "unknown challenge": flow.submission("max", "m3", challengeId="no-such-challenge"),
        "review": review,
        "good": good,
    }
    flow.publish(*published.values())
    [request] = flow.tick().run_requests
    assert request.partition_key == flow.challenges["max"]
    # the broker spreads unkeyed messages over partitions: find each by its stored payload
    by_payload = {json.dumps(e.payload, sort_keys=True): e for e in flow.events()}
    stored = {
        k: by_payload[json.dumps(None if isinstance(v, bytes) else v, sort_keys=True)]
        for k, v in published.items()
    }
    settled = {k: (e.status, e.reason or "") for k, e in stored.items()}
    assert {k: s for k, (s, _) in settled.items()} == {
        "bad json": Status.INVALID,
        "missing fields": Status.INVALID,
        "ftp url": Status.INVALID,
        "unknown challenge": Status.INVALID,
        "review": Status.IGNORED,
        "good": Status.NEW,
    }
    assert "malformed JSON" in settled["bad json"][1]
    assert "missing" in settled["missing fields"][1]
    assert "http(s) URL" in settled["ftp url"][1]
    assert "unknown challenge no-such-challenge" in settled["unknown challenge"][1]
    assert "review" in settled["review"][1]
    assert flow.run(request).success
    assert stored["good"].id in [e.id for e in flow.events() if e.status is Status.HANDLED]


def test_a_broken_submission_is_scored_with_its_failed_tests(sqlite_flow: Scoring) -> None:
    flow = sqlite_flow
    broken = flow.submission("max", "m1", "broken")
    good = flow.submission("max", "m2", "good-1")
    flow.publish(broken, good)
    [request] = flow.tick().run_requests
    assert flow.run(request).success
    [review] = flow.api("/reviews", submissionId=broken["id"])
    failed = [t for t in review["metadata"]["testScores"] if t["score"] < 0]
    assert failed and all(t.get("error") for t in failed)
    rows = {r.member_id: r for r in flow.store.leaderboard(flow.challenges["max"])}
    assert rows["m2"].rank == 1 and rows["m1"].status == SCORED


def test_a_crashing_submission_is_retried_then_failed_at_the_api_and_dead_lettered(flow: Scoring) -> None:
    crashing = flow.submission("max", "m1", "crashing")
    good = flow.submission("max", "m2", "good-1")
    flow.publish(crashing, good)
    [request] = flow.tick().run_requests
    run = flow.run(request)
    assert run.success  # the good one is scored; the crashing one is settled as a dead letter
    challenge = flow.challenges["max"]
    statuses = {sid: status for sid, _, status in flow.store.phase_statuses(challenge)}
    assert statuses == {crashing["id"]: FAILED, good["id"]: SCORED}
    [outcome] = [o for o in flow.store.outcomes(challenge) if o.submission_id == crashing["id"]]
    assert outcome.reason.startswith("scorer exited with code")
    # three scorer attempts: the step ran three times (RetryPolicy)
    restarts = [e for e in run.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert [e.step_key for e in restarts] == ["scoring__submission_scores"] * 2
    patches = [r for r in flow.api_requests() if r["method"] == "PATCH" and crashing["id"] in r["path"]]
    assert len(patches) == 1 and patches[0]["body"]["status"] == "FAILED"
    assert "exited with code" in patches[0]["body"]["reason"]
    assert flow.api("/reviews", submissionId=crashing["id"]) == []
    by_id = {e.payload["id"]: e for e in flow.events()}
    assert by_id[crashing["id"]].status is Status.FAILED
    assert "exited with code" in by_id[crashing["id"]].reason
    assert by_id[good["id"]].status is Status.HANDLED

    # the operator's list of dead letters, then a replay once "fixed": scored again from the inbox
    listed = CliRunner().invoke(scoring, ["dead-letters"], env=_cli_env(flow))
    assert listed.exit_code == 0, listed.output
    assert crashing["id"] in listed.output and "exited with code" in listed.output
    assert good["id"] not in listed.output


def _cli_env(flow: Scoring) -> dict[str, str]:
    return {
        "MM_PLATFORM_STATE_DIR": str(flow.settings.state_dir),
        "MM_PLATFORM_PLATFORM_DB_URL": flow.settings.platform_db_url,
        "MM_PLATFORM_SCORING_TOPIC": flow.topic,
    }


def test_posting_is_idempotent_across_an_api_outage_and_a_crash_between_post_and_record(
    flow: Scoring,
) -> None:
    challenge = flow.challenges["max"]
    sub = flow.submission("max", "m1", "good-2")
    flow.publish(sub)
    [request] = flow.tick().run_requests
    # the summation endpoint is down for every attempt of this run: the review is posted once
    flow.fail_api("/reviewSummations", 500, 100)
    run = flow.run(request)
    assert not run.success
    [review] = flow.api("/reviews", submissionId=sub["id"])
    [event] = flow.events()
    assert event.status is Status.FAILED and "500" in event.reason
    flow.fail_api("/reviewSummations", 500, 0)

    # crashes after the API stored a call but before we recorded it: the review's record is lost,
    # and the summation reached the API without a record
    flow.store.record_posted(sub["id"], "provisional", review_id=None)
    summation = {
        "submissionId": sub["id"],
        "scoreCardId": "30001850",
        "aggregateScore": review["score"],
        "isPassing": review["score"] > 0,
        "isFinal": False,
        "metadata": {"testType": "provisional"},
    }
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests.post(
        f"{flow.api_url}/reviewSummations", json=summation, headers=auth, timeout=10
    ).raise_for_status()

    # the next run (of another submission) completes what the failed run left
    other = flow.submission("max", "m2", "good-1")
    flow.publish(other)
    [later] = flow.tick().run_requests
    again = flow.run(later)
    assert again.success
    assert [r["id"] for r in flow.api("/reviews", submissionId=sub["id"])] == [review["id"]]
    assert len(flow.api("/reviewSummations", submissionId=sub["id"])) == 1
    posts = [r for r in flow.api_requests() if r["method"] == "POST" and r["path"] == "/reviews"]
    assert len(posts) == 2  # one per submission, although two runs handled the first
    metadata = {
        e.asset_key.path[-1]: e.materialization.metadata for e in again.get_asset_materialization_events()
    }["submission_scores"]
    assert metadata["scored"].value == 1  # only the new submission ran a scorer
    assert flow.store.open_work(challenge, ["provisional"]) == []
    by_id = {e.payload["id"]: e for e in flow.events()}
    assert (by_id[sub["id"]].status, by_id[sub["id"]].reason) == (Status.HANDLED, "completed by a later run")
    assert by_id[other["id"]].status is Status.HANDLED


REPORTING_SCORER = (
    "from dagster_pipes import open_dagster_pipes\n"
    "with open_dagster_pipes() as pipes:\n"
    "    pipes.report_custom_message({{'score': {score}, 'testScores': []}})\n"
)


# NaN on both databases (PostgreSQL's json refuses it: it must never get that far), the rest on SQLite
@pytest.mark.parametrize(
    ("score", "database_kind"),
    [
        ("float('nan')", "sqlite"),
        ("float('nan')", "postgresql"),
        ("float('inf')", "sqlite"),
        ("1e29", "sqlite"),
    ],
)
def test_a_score_that_cannot_be_stored_is_refused_without_retry_and_nothing_is_posted(
    request: pytest.FixtureRequest,
    kafka: KafkaResource,
    topic: str,
    database_kind: str,
    moto_endpoint: str,
    api_standin: str,
    samples_bucket: str,
    tmp_path: Path,
    score: str,
) -> None:
    command = ["python", "-c", REPORTING_SCORER.format(score=score)]
    db_url = (
        request.getfixturevalue("pg_database")()
        if database_kind == "postgresql"
        else f"sqlite:///{tmp_path / 'platform.db'}"
    )
    with open_scoring(
        kafka, topic, db_url, moto_endpoint, api_standin, tmp_path, max={"command": command}
    ) as flow:
        sub = flow.submission("max", "m1")
        flow.publish(sub)
        [request] = flow.tick().run_requests
        run = flow.run(request)
        assert run.success
        assert not [e for e in run.all_events if e.event_type_value == "STEP_RESTARTED"]  # no retry
        [outcome] = flow.store.outcomes(flow.challenges["max"])
        assert outcome.status == FAILED and outcome.reason.startswith("score refused: score")
        assert flow.api("/reviews", submissionId=sub["id"]) == []
        [patch] = [r for r in flow.api_requests() if r["method"] == "PATCH"]
        assert patch["body"]["status"] == "FAILED" and "score refused" in patch["body"]["reason"]
        [event] = flow.events()
        assert event.status is Status.FAILED and "score refused" in event.reason


def test_a_replayed_dead_letter_is_scored_again_once_its_cause_is_fixed(sqlite_flow: Scoring) -> None:
    flow = sqlite_flow
    s3 = moto_s3(flow.aws)
    key = f"samples/fixable-{uuid.uuid4().hex[:6]}.zip"
    s3.put_object(Bucket=BUCKET, Key=key, Body=sample_submissions()["crashing"], ACL="public-read")
    sub = flow.submission("max", "m1", url=f"{flow.aws}/{BUCKET}/{key}")
    flow.publish(sub)
    [request] = flow.tick().run_requests
    assert flow.run(request).success
    [event] = flow.events()
    assert event.status is Status.FAILED

    # the member's file is repaired; the operator replays the dead letter
    s3.put_object(Bucket=BUCKET, Key=key, Body=sample_submissions()["good-1"], ACL="public-read")
    assert flow.inbox.replay(topic=flow.topic, entity_keys=[f"submission:{sub['id']}"]) == 1
    [retry] = flow.retry_tick().run_requests
    assert flow.run(retry).success
    [event] = flow.events()
    assert event.status is Status.HANDLED
    [outcome] = flow.store.outcomes(flow.challenges["max"])
    assert outcome.status == SCORED
    assert len(flow.api("/reviews", submissionId=sub["id"])) == 1


def test_a_submission_in_the_topcoder_bus_envelope_is_scored_like_the_seed_shape(
    sqlite_flow: Scoring,
) -> None:
    flow = sqlite_flow
    seed = flow.submission("min", "m1", "good-2")
    envelope = {
        "topic": "submission.notification.create",
        "originator": "submission-api",
        "timestamp": seed["created"],
        "mime-type": "application/json",
        "payload": {
            "resource": "submission",
            **seed,
            "type": "Contest Submission",
            "updated": seed["created"],
            "submissionPhaseId": "phase-1",
            "fileType": "zip",
            "submittedDate": seed["created"],
            "isFileSubmission": True,
            "legacyChallengeId": 30000001,
        },
    }
    flow.publish(envelope)
    [request] = flow.tick().run_requests
    assert request.partition_key == flow.challenges["min"]
    [event] = flow.events()
    assert (event.event_type, event.entity_key) == ("submission.create", f"submission:{seed['id']}")
    assert flow.run(request).success
    assert {r["metadata"]["testType"] for r in flow.api("/reviews", submissionId=seed["id"])} == {
        "example",
        "provisional",
        "system",
    }
    # the same submission in the other shape is the same submission: a duplicate
    flow.publish(seed)
    assert flow.tick().run_requests == []
    assert flow.events()[-1].status is Status.IGNORED
