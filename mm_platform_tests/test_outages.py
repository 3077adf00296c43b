"""Outages of what the platform writes to: the platform database, the OLTP database, DynamoDB, and a
SQLite file another writer holds locked. Each fails the tick or the step loudly (never a silent
skip); once the store is back, the next tick or run takes everything that was missed."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    SensorResult,
    build_run_status_sensor_context,
    build_sensor_context,
    instance_for_test,
)

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.devstack import free_port
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.domains import load_settings
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, load_sample_data, review_end_event

SENSOR = "marathon_review_end_sensor"
JOB = "marathon_round_job"


def unreachable_database() -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/gone?connect_timeout=2"


class Site:
    """The code location over the test broker and moto, and variants of it with one store down."""

    def __init__(self, env: dict[str, str], instance: DagsterInstance, kafka: KafkaResource, topic: str):
        self.env, self.instance, self.kafka, self.topic = env, instance, kafka, topic
        self.defs = self.with_env()
        self.cursor: str | None = None

    def with_env(self, **changes: str) -> Definitions:
        return build_definitions(load_settings({**self.env, **changes}))

    @property
    def inbox(self) -> EventInbox:
        inbox = EventInbox(engine_for(self.env["MM_PLATFORM_PLATFORM_DB_URL"]))
        inbox.create_schema()
        return inbox

    def publish(self, *events: dict) -> None:
        self.kafka.produce(self.topic, [json.dumps(e) for e in events])

    def tick(self, defs: Definitions | None = None) -> SensorResult:
        defs = defs or self.defs
        context = build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            cursor=self.cursor,
            resources=defs.resources,
            definitions=defs,
        )
        result = defs.get_repository_def().get_sensor_def(SENSOR).evaluate_tick(context)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        return result


@pytest.fixture
def site(
    kafka: KafkaResource, topic: str, database: Callable[[], str], moto_endpoint: str, tmp_path: Path
) -> Site:
    env = {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
        "MM_PLATFORM_OLTP_DB_URL": database(),
        "MM_PLATFORM_PLATFORM_DB_URL": database(),
        "MM_PLATFORM_DW_DB_URL": database(),
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
        "MM_PLATFORM_MEMBER_STATS_TABLE": f"member_stats_{uuid.uuid4().hex[:8]}",
        "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member_history_{uuid.uuid4().hex[:8]}",
        "MM_PLATFORM_SENSOR_MAX_SECONDS": "10",
    }
    load_sample_data(env["MM_PLATFORM_OLTP_DB_URL"])
    with instance_for_test() as instance:
        yield Site(env, instance, kafka, topic)


@pytest.mark.parametrize("store", ["MM_PLATFORM_PLATFORM_DB_URL", "MM_PLATFORM_OLTP_DB_URL"])
def test_a_database_down_fails_the_tick_and_the_next_tick_takes_every_message(site: Site, store: str) -> None:
    site.publish(review_end_event(), {"not": "a phase event"}, review_end_event(phase_id=2))
    down = site.with_env(**{store: unreachable_database()})
    with pytest.raises(Exception, match=r"(?i)connect|refused|could not"):
        site.tick(down)
    assert site.cursor is None  # the tick kept its cursor: nothing was read past
    assert site.inbox.select(topic=site.topic) == []
    result = site.tick()  # the database is back
    statuses = sorted(e.status.value for e in site.inbox.select(topic=site.topic))
    assert statuses == ["INVALID", "NEW", "NEW"]
    assert len(result.run_requests) == 1


def test_the_platform_database_down_when_a_run_ends_leaves_the_event_to_the_next_outcome_tick(
    site: Site,
) -> None:
    site.publish(review_end_event())
    [request] = site.tick().run_requests
    run = site.defs.resolve_job_def(JOB).execute_in_process(
        instance=site.instance,
        partition_key=request.partition_key,
        tags=request.tags,
        asset_selection=request.asset_selection,
    )
    assert run.success

    def outcome_tick(defs: Definitions) -> None:
        sensor = defs.get_repository_def().get_sensor_def("inbox_handled_on_run_success")
        context = build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=run.get_run_success_event(),
            dagster_instance=site.instance,
            dagster_run=run.dagster_run,
            resources={"inbox": defs.resources["inbox"]},
        )
        sensor(context)

    down = site.with_env(MM_PLATFORM_PLATFORM_DB_URL=unreachable_database())
    with pytest.raises(Exception, match=r"(?i)connect|refused|could not"):
        outcome_tick(down)  # Dagster keeps the run-status sensor's cursor: the run is seen again
    assert [e.status for e in site.inbox.select(topic=site.topic)] == [Status.NEW]
    outcome_tick(site.defs)
    assert [e.status for e in site.inbox.select(topic=site.topic)] == [Status.HANDLED]


def test_dynamodb_down_fails_the_member_stats_step_and_a_rerun_publishes_every_member(site: Site) -> None:
    site.instance.add_dynamic_partitions("marathon_round", [str(SAMPLE_ROUND_ID)])
    down = site.with_env(MM_PLATFORM_AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    failed = down.resolve_job_def(JOB).execute_in_process(
        instance=site.instance, partition_key=str(SAMPLE_ROUND_ID), raise_on_error=False
    )
    assert not failed.success
    [failure] = failed.get_step_failure_events()
    assert failure.step_key == "marathon__member_stats"
    assert "Could not connect" in failure.event_specific_data.error.to_string()
    done = {e.asset_key.path[-1] for e in failed.get_asset_materialization_events()}
    assert "member_stats" not in done and "dw_mm_ratings" in done

    rerun = site.defs.resolve_job_def(JOB).execute_in_process(
        instance=site.instance, partition_key=str(SAMPLE_ROUND_ID)
    )
    assert rerun.success
    table = boto3.resource(
        "dynamodb",
        endpoint_url=site.env["MM_PLATFORM_AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        **EMBEDDED_CREDENTIALS,
    ).Table(site.env["MM_PLATFORM_MEMBER_STATS_TABLE"])
    [stats] = [e for e in rerun.get_asset_materialization_events() if e.asset_key.path[-1] == "member_stats"]
    members = stats.materialization.metadata["members"].value
    assert members > 0 and table.scan(Select="COUNT")["Count"] == members


def test_a_sqlite_file_locked_by_another_writer_delays_the_tick_and_loses_nothing(
    kafka: KafkaResource, topic: str, moto_endpoint: str, tmp_path: Path
) -> None:
    platform_db = tmp_path / "platform.db"
    env = {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
        "MM_PLATFORM_OLTP_DB_URL": f"sqlite:///{tmp_path / 'oltp.db'}",
        "MM_PLATFORM_PLATFORM_DB_URL": f"sqlite:///{platform_db}",
        "MM_PLATFORM_DW_DB_URL": f"sqlite:///{tmp_path / 'dw.db'}",
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
    }
    load_sample_data(env["MM_PLATFORM_OLTP_DB_URL"])
    with instance_for_test() as instance:
        site = Site(env, instance, kafka, topic)
        site.inbox.create_schema()  # the schema exists before the other writer takes its lock
        site.publish(review_end_event(), review_end_event(phase_id=2))
        locked, release = threading.Event(), threading.Event()

        def other_writer() -> None:
            connection = sqlite3.connect(platform_db, isolation_level=None)
            connection.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(30)
            connection.execute("COMMIT")
            connection.close()

        writer = threading.Thread(target=other_writer)
        writer.start()
        assert locked.wait(30)
        # the writer lets go while the tick waits on SQLite's busy timeout
        threading.Timer(1.0, release.set).start()
        try:
            result = site.tick()
        finally:
            release.set()
            writer.join(30)
        assert len(result.run_requests) == 1
        assert [e.status for e in site.inbox.select(topic=topic)] == [Status.NEW, Status.NEW]
