"""Scoring under the real Dagster daemon and run queue: a challenge whose scorer hangs does not delay
another challenge's submissions; once that scorer ends (here: crashes), its submission is a dead letter."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from mm_platform.core.devstack import free_port, stop_process
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.scoring.dev.stack import sample_submissions
from mm_platform.scoring.dev.submission_api_standin import serve
from mm_platform_tests.scoring.test_scoring_flow import TOKEN, challenge_configs, moto_s3, put_configs
from mm_platform_tests.test_daemon_e2e import REPO, start_daemon, wait_for

BUCKET = "scoring-daemon-submissions"
# hangs until the test lets it go, then crashes: no assumption about how fast the machine is
HANGING_SCORER = (
    "import os, sys, time\nwhile not os.path.exists(sys.argv[1]):\n    time.sleep(0.1)\nsys.exit(3)\n"
)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    server = serve("127.0.0.1", port, str(tmp_path / "api.db"), TOKEN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_a_hung_scorer_does_not_delay_another_challenge(
    kafka: KafkaResource, topic: str, moto_endpoint: str, api: str, tmp_path: Path
) -> None:
    s3 = moto_s3(moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="good.zip", Body=sample_submissions()["good-1"], ACL="public-read")
    release = tmp_path / "release-the-scorer"
    hang = ["python", "-c", HANGING_SCORER, str(release)]
    configs = challenge_configs(max={"command": hang, "timeout": 3600})
    put_configs(moto_endpoint, configs)
    hung_challenge, healthy_challenge = list(configs)

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    platform_db = f"sqlite:///{tmp_path}/platform.db"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_TOPIC_AUTOPILOT": f"{topic}-autopilot",
        "MM_PLATFORM_SCORING_TOPIC": topic,
        "MM_PLATFORM_OLTP_DB_URL": f"sqlite:///{tmp_path}/oltp.db",
        "MM_PLATFORM_DW_DB_URL": f"sqlite:///{tmp_path}/dw.db",
        "MM_PLATFORM_PLATFORM_DB_URL": platform_db,
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
        "MM_PLATFORM_SCORING_SUBMISSION_API_URL": api,
        "MM_PLATFORM_SCORING_MAX_ATTEMPTS": "1",
    }
    url = f"{moto_endpoint}/{BUCKET}/good.zip"
    hung = {
        "id": "hung-1",
        "challengeId": hung_challenge,
        "url": url,
        "memberId": "m1",
        "created": "2026-11-30T12:00:00Z",
    }
    healthy = {
        "id": "ok-1",
        "challengeId": healthy_challenge,
        "url": url,
        "memberId": "m2",
        "created": "2026-11-30T12:00:01Z",
    }
    inbox = EventInbox(engine_for(platform_db))
    inbox.create_schema()

    def status(submission_id: str) -> Status | None:
        found = inbox.select(topic=topic, entity_key=f"submission:{submission_id}", limit=1)
        return found[0].status if found else None

    log = tmp_path / "daemon.log"
    daemon = start_daemon(env, log)
    try:
        kafka.produce(topic, [json.dumps(hung)])
        instance = DagsterInstance.from_config(str(home))

        def hung_run_started() -> bool:
            runs = instance.get_runs(
                RunsFilter(tags={"dagster/partition": hung_challenge}, statuses=[DagsterRunStatus.STARTED])
            )
            return bool(runs)

        wait_for("the hung challenge's run to start", hung_run_started, 120, daemon, log)
        kafka.produce(topic, [json.dumps(healthy)])
        wait_for("the healthy submission", lambda: status("ok-1") is Status.HANDLED, 120, daemon, log)
        # scored and posted while the other challenge's scorer still hangs
        assert status("hung-1") is Status.NEW
        assert hung_run_started()  # its scorer still hangs
        reviews = requests.get(
            f"{api}/reviews",
            params={"submissionId": "ok-1"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()
        # the healthy challenge is the MINIMIZE sample: a review per phase
        assert sorted(r["metadata"]["testType"] for r in reviews) == ["example", "provisional", "system"]

        release.touch()
        wait_for("the hung scorer's dead letter", lambda: status("hung-1") is Status.FAILED, 180, daemon, log)
        [event] = inbox.select(topic=topic, entity_key="submission:hung-1", limit=1)
        assert "scorer exited with code 3" in event.reason
    finally:
        stop_process(daemon.pid)
