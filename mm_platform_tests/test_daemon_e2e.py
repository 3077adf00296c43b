"""The whole loop with a real Dagster daemon: publish a review-END event, the daemon's sensor
launches the round's run, the run materializes attendance, the outcome sensor marks the event
HANDLED. Then the daemon is stopped, an event is published while it is down, and a restarted daemon
picks it up from the stored cursor: no event is lost. Last, an upstream re-materialization outside
the round's job is propagated down the chain by the automation sensor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from mm_platform.core.devstack import stop_process
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, load_sample_data, review_end_event

REPO = Path(__file__).resolve().parents[1]
ATTENDANCE = AssetKey(["marathon", "long_comp_result_attendance"])
ROUND_RATINGS = AssetKey(["marathon", "round_ratings"])
MEMBER_STATS = AssetKey(["marathon", "member_stats"])


def wait_for(
    what: str, condition: Callable[[], object], timeout: float, process: subprocess.Popen, log: Path
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            tail = log.read_text()[-3000:]
            pytest.fail(f"the daemon exited ({process.returncode}) while waiting for {what}:\n{tail}")
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; daemon log:\n{log.read_text()[-3000:]}")


@pytest.fixture
def environment(
    kafka: KafkaResource, topic: str, moto_endpoint: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
        "MM_PLATFORM_OLTP_DB_URL": f"sqlite:///{tmp_path}/oltp.db",
        "MM_PLATFORM_PLATFORM_DB_URL": f"sqlite:///{tmp_path}/platform.db",
        "MM_PLATFORM_DW_DB_URL": f"sqlite:///{tmp_path}/dw.db",
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
        "MM_PLATFORM_MEMBER_STATS_TABLE": f"member_stats_{topic.replace('.', '_')}",
        "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member_history_{topic.replace('.', '_')}",
    }
    load_sample_data(env["MM_PLATFORM_OLTP_DB_URL"])
    yield env


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_daemon_runs_the_round_and_loses_no_event_across_a_restart(
    environment: dict[str, str], kafka: KafkaResource, topic: str, tmp_path: Path
) -> None:
    log = tmp_path / "daemon.log"
    inbox = EventInbox(engine_for(environment["MM_PLATFORM_PLATFORM_DB_URL"]))
    inbox.create_schema()
    instance = DagsterInstance.from_config(environment["DAGSTER_HOME"])

    def materializations() -> int:
        return len(instance.fetch_materializations(ATTENDANCE, limit=10).records)

    def handled() -> list:
        return inbox.select(statuses=[Status.HANDLED], topic=topic)

    daemon = start_daemon(environment, log)
    try:
        kafka.produce(topic, [json.dumps(review_end_event(phase_id=1))])
        wait_for("the first materialization", lambda: materializations() >= 1, 120, daemon, log)
        wait_for("the event to be HANDLED", lambda: len(handled()) == 1, 60, daemon, log)
        record = instance.fetch_materializations(ATTENDANCE, limit=1).records[0]
        assert record.partition_key == str(SAMPLE_ROUND_ID)
        metadata = record.asset_materialization.metadata
        assert metadata["marked_attended"].value == 31
    finally:
        stop_process(daemon.pid, timeout=20)

    # published while no daemon runs; the next daemon continues from the stored cursor
    kafka.produce(topic, [json.dumps(review_end_event(phase_id=2))])
    daemon = start_daemon(environment, log)
    try:
        wait_for("the second event to be HANDLED", lambda: len(handled()) == 2, 120, daemon, log)
        assert materializations() == 2
        assert [e.status for e in inbox.select(topic=topic)] == [Status.HANDLED, Status.HANDLED]

        # an operator re-materializes round_ratings alone (a run outside the round's job): the
        # automation sensor, running by default, brings the DW and member stats up to date
        stats = len(instance.fetch_materializations(MEMBER_STATS, limit=10).records)
        defs = build_definitions(Settings.from_env(environment))
        with instance:  # loading definitions resolves Dagster's state storage through the current instance
            # as the UI's "Materialize selected" launches it: the run records its asset selection
            job = defs.resolve_implicit_global_asset_job_def()
            run = job.execute_in_process(
                instance=instance, partition_key=str(SAMPLE_ROUND_ID), asset_selection=[ROUND_RATINGS]
            )
            assert run.success
        wait_for(
            "automation to refresh member stats",
            lambda: len(instance.fetch_materializations(MEMBER_STATS, limit=10).records) > stats,
            120,
            daemon,
            log,
        )
    finally:
        stop_process(daemon.pid, timeout=20)
