"""The review-END slice end to end: a real broker, a Dagster instance, the inbox and OLTP database."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    Definitions,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.utils import make_new_run_id
from sqlalchemy import insert, select, update

from mm_platform.core.inbox import EventInbox, InboxEvent, Status, event_inbox
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sensors import INBOX_IDS_TAG, KafkaCursor, inbox_ids_of
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.marathon.dev.sample_data import (
    NON_MARATHON_PROJECT_ID,
    SAMPLE_PROJECT_ID,
    SAMPLE_ROUND_ID,
    UNMAPPED_MARATHON_PROJECT_ID,
    load_sample_data,
    review_end_event,
)
from mm_platform.marathon.stores.schema import ROUND_MAPPING_INFO_TYPE_ID, long_comp_result, project_info
from mm_platform_tests.runs import evaluate_schedule, evaluate_sensor, execute_and_settle

SENSOR = "marathon_review_end_sensor"
RETRY_SCHEDULE = "marathon_review_end_retry"
JOB = "marathon_round_job"


@dataclass
class Platform:
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    kafka: KafkaResource
    topic: str
    cursor: str | None = None

    @property
    def inbox(self) -> EventInbox:
        inbox = EventInbox(engine_for(self.settings.platform_db_url))
        inbox.create_schema()
        return inbox

    def publish(self, *values: dict | str | bytes) -> None:
        encoded = [
            v if isinstance(v, bytes) else (v if isinstance(v, str) else json.dumps(v)).encode()
            for v in values
        ]
        self.kafka.produce(self.topic, encoded, key="autopilot")

    def tick(self):
        """One sensor evaluation as the daemon does it: requests, partitions and the new cursor."""
        result = evaluate_sensor(self.defs, self.instance, SENSOR, self.cursor)
        self.cursor = result.cursor
        return result

    def retry_tick(self):
        """One evaluation of the topic's retry schedule."""
        return evaluate_schedule(self.defs, self.instance, RETRY_SCHEDULE)

    def run(self, request) -> object:
        """Execute a requested run in process, then let the outcome sensors update the inbox."""
        return execute_and_settle(self.defs, self.instance, request, JOB)

    def events(self) -> list[InboxEvent]:
        return self.inbox.select(topic=self.topic, limit=1000)

    def attended(self) -> dict[int, str]:
        with engine_for(self.settings.oltp_db_url).connect() as conn:
            rows = conn.execute(
                select(long_comp_result.c.coder_id, long_comp_result.c.attended).where(
                    long_comp_result.c.round_id == SAMPLE_ROUND_ID
                )
            )
            return dict(rows.all())


def attendance_metadata(run) -> dict:
    [event] = [
        e
        for e in run.get_asset_materialization_events()
        if e.asset_key.path[-1] == "long_comp_result_attendance"
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@contextmanager
def open_platform(
    kafka: KafkaResource, topic: str, db_url: str, tmp_path: Path, extra: dict[str, str] | None = None
) -> Iterator[Platform]:
    """The code location on `topic` with OLTP and inbox in `db_url` and the sample round loaded;
    `extra` adds settings."""
    env = {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
        "MM_PLATFORM_OLTP_DB_URL": db_url,
        "MM_PLATFORM_PLATFORM_DB_URL": db_url,
        "MM_PLATFORM_SENSOR_MAX_SECONDS": "10",
        **(extra or {}),
    }
    settings = Settings.from_env(env)
    load_sample_data(settings.oltp_db_url)
    with instance_for_test() as instance:
        yield Platform(settings, build_definitions(settings), instance, kafka, topic)


@pytest.fixture
def platform(
    kafka: KafkaResource, topic: str, database: Callable[[], str], moto_endpoint: str, tmp_path: Path
) -> Iterator[Platform]:
    """The code location bound to the test broker and moto, with OLTP and inbox in one database and
    the DW in another (SQLite or PostgreSQL)."""
    db_url = database()
    extra = {
        "MM_PLATFORM_DW_DB_URL": database(),
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
        "MM_PLATFORM_MEMBER_STATS_TABLE": f"member_stats_{topic.replace('.', '_')}",
        "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member_history_{topic.replace('.', '_')}",
    }
    with open_platform(kafka, topic, db_url, tmp_path, extra) as platform:
        yield platform


def test_review_end_marks_final_submitters_attended(platform: Platform) -> None:
    before = platform.attended()
    assert set(before.values()) == {"N"}
    platform.publish(review_end_event())

    result = platform.tick()
    [request] = result.run_requests
    assert request.partition_key == str(SAMPLE_ROUND_ID)
    assert platform.instance.get_dynamic_partitions("marathon_round") == [str(SAMPLE_ROUND_ID)]
    [event] = platform.events()
    assert (event.status, event.event_type, event.entity_key) == (
        Status.NEW,
        "review.end",
        f"project-{SAMPLE_PROJECT_ID}",
    )
    assert request.tags[INBOX_IDS_TAG] == str(event.id)
    assert event.payload == review_end_event()  # the payload stays in the inbox, not in run config
    # the request names the chain's assets, so automation knows the run updated all of them
    assert [k.path[-1] for k in request.asset_selection] == [
        "dw_coders",
        "dw_mm_ratings",
        "long_comp_result_attendance",
        "member_search_index",
        "member_stats",
        "round_ratings",
    ]

    run = platform.run(request)
    assert run.success
    after = platform.attended()
    # the sample round: coders 7, 17, 27, 37 have a latest submission without a final score,
    # 5, 18, 31 never submitted, 38 and 39 have no long_comp_result row
    base = 20_000_000
    expected_attended = {base + i for i in range(38) if i % 10 != 7 and i not in (5, 18, 31)}
    assert {c for c, a in after.items() if a == "Y"} == expected_attended
    assert set(after) == set(before)  # no row inserted

    metadata = attendance_metadata(run)
    assert metadata["marked_attended"] == len(expected_attended)
    assert metadata["final_submitters_without_result_row"] == 2
    assert metadata["latest_submission_without_final_score"] == 4
    assert metadata["attended_total"] == len(expected_attended)

    [handled] = platform.events()
    assert (handled.status, handled.run_id, handled.attempts) == (Status.HANDLED, run.run_id, 1)

    # re-materializing changes nothing
    again = platform.run(request)
    metadata = {
        k: v.value for k, v in again.get_asset_materialization_events()[0].materialization.metadata.items()
    }
    assert metadata["marked_attended"] == 0 and metadata["already_attended"] == len(expected_attended)
    assert platform.attended() == after


def test_duplicate_events_lead_to_one_run(platform: Platform) -> None:
    platform.publish(review_end_event(), review_end_event())
    first = platform.tick()
    assert len(first.run_requests) == 1
    platform.publish(review_end_event())  # delivered again later
    second = platform.tick()
    assert second.run_requests == []
    statuses = [(e.status, e.reason) for e in platform.events()]
    assert statuses[0] == (Status.NEW, None)
    assert [s for s, _ in statuses[1:]] == [Status.IGNORED, Status.IGNORED]
    assert all(r.startswith("duplicate of the event at partition") for _, r in statuses[1:])


def test_bad_and_irrelevant_events_are_kept_with_reasons_and_good_ones_still_flow(platform: Platform) -> None:
    submission_end = review_end_event()
    submission_end["payload"]["phaseTypeName"] = "Submission"
    review_start = review_end_event()
    review_start["payload"]["state"] = "START"
    lower_case = review_end_event(phase_id=2)
    lower_case["payload"].update(phaseTypeName="review", state="end")
    no_project = review_end_event()
    del no_project["payload"]["projectId"]
    bad_project = review_end_event()
    bad_project["payload"]["projectId"] = "thirty"
    platform.publish(
        b"{not json",
        b"\xff\xfe",
        "[1, 2]",
        {"topic": "x"},
        no_project,
        bad_project,
        submission_end,
        review_start,
        review_end_event(project_id=NON_MARATHON_PROJECT_ID),
        review_end_event(project_id=UNMAPPED_MARATHON_PROJECT_ID),
        review_end_event(project_id=99999999),
        lower_case,
    )
    result = platform.tick()
    got = [(e.status, e.reason) for e in platform.events()]
    assert got[0][0] is Status.INVALID and got[0][1].startswith("malformed JSON")
    assert got[1][0] is Status.INVALID and "not UTF-8" in got[1][1]
    assert got[2] == (Status.INVALID, "expected a JSON object, got list")
    assert got[3] == (Status.INVALID, "missing field payload")
    assert got[4] == (Status.INVALID, "missing field payload.projectId")
    assert got[5] == (Status.INVALID, "payload.projectId must be an integer, got 'thirty'")
    assert got[6] == (Status.IGNORED, "phase Submission END is not Review END")
    assert got[7] == (Status.IGNORED, "phase Review START is not Review END")
    assert got[8] == (
        Status.IGNORED,
        f"project {NON_MARATHON_PROJECT_ID} is not a marathon match (project_category_id 1)",
    )
    assert got[9] == (
        Status.RETRY,
        f"the round mapping (project_info type 56) for legacy project {UNMAPPED_MARATHON_PROJECT_ID} "
        "is not in the OLTP database yet",
    )
    assert got[10] == (
        Status.RETRY,
        "the project for legacy project 99999999 is not in the OLTP database yet",
    )
    assert got[11] == (Status.NEW, None)  # case-insensitive review/end
    [request] = result.run_requests
    assert request.partition_key == str(SAMPLE_ROUND_ID)
    assert platform.run(request).success
    assert "Y" in platform.attended().values()


def test_unmapped_project_is_retried_by_the_schedule_once_its_round_exists(platform: Platform) -> None:
    platform.publish(review_end_event(project_id=UNMAPPED_MARATHON_PROJECT_ID))
    assert platform.tick().run_requests == []
    still_missing = platform.retry_tick()
    assert still_missing.run_requests in (None, [])
    [event] = platform.events()
    assert (event.status, event.attempts) == (Status.RETRY, 1)

    # the legacy processor writes the mapping of the project to the sample round
    with engine_for(platform.settings.oltp_db_url).begin() as conn:
        conn.execute(
            insert(project_info).values(
                project_id=UNMAPPED_MARATHON_PROJECT_ID,
                project_info_type_id=ROUND_MAPPING_INFO_TYPE_ID,
                value=str(SAMPLE_ROUND_ID),
            )
        )
    dispatched = platform.retry_tick()
    [request] = dispatched.run_requests
    assert request.partition_key == str(SAMPLE_ROUND_ID)
    assert inbox_ids_of(request.tags) == [event.id]
    [dispatched_event] = platform.events()
    assert (dispatched_event.status, dispatched_event.partition_key) == (Status.NEW, str(SAMPLE_ROUND_ID))
    assert dispatched_event.reason == "dispatched by the retry schedule"
    assert platform.instance.has_dynamic_partition("marathon_round", str(SAMPLE_ROUND_ID))
    assert platform.run(request).success
    [handled] = platform.events()
    assert handled.status is Status.HANDLED


def test_the_retry_schedule_leaves_an_event_whose_run_is_queued(platform: Platform) -> None:
    """A NEW event older than the schedule's 30 minutes whose run waits in the queue is not dispatched
    a second time; once that run is gone (lost), the schedule dispatches it."""
    platform.publish(review_end_event())
    [request] = platform.tick().run_requests
    # a run the queued run coordinator holds (a queued run names the code location it came from)
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("mm_platform"), "__repository__"), JOB
    )
    queued = platform.instance.add_run(
        DagsterRun(
            job_name=JOB,
            run_id=make_new_run_id(),
            status=DagsterRunStatus.QUEUED,
            tags=request.tags,
            remote_job_origin=origin,
        )
    )
    assert platform.instance.get_run_by_id(queued.run_id).status is DagsterRunStatus.QUEUED
    [event] = platform.events()
    with engine_for(platform.settings.platform_db_url).begin() as conn:
        an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        conn.execute(update(event_inbox).where(event_inbox.c.id == event.id).values(received_at=an_hour_ago))
    assert platform.retry_tick().run_requests in (None, [])  # before the fix: a second run was requested
    [waiting] = platform.events()
    assert (waiting.status, waiting.attempts, waiting.reason) == (Status.NEW, 0, None)

    platform.instance.delete_run(queued.run_id)
    [again] = platform.retry_tick().run_requests
    assert inbox_ids_of(again.tags) == [event.id]


def test_retry_gives_up_after_max_attempts(platform: Platform, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path / "s2"),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": platform.kafka.bootstrap_servers,
            "MM_PLATFORM_TOPIC_AUTOPILOT": platform.topic,
            "MM_PLATFORM_OLTP_DB_URL": platform.settings.oltp_db_url,
            "MM_PLATFORM_PLATFORM_DB_URL": platform.settings.platform_db_url,
            "MM_PLATFORM_RETRY_MAX_ATTEMPTS": "2",
        }
    )
    platform.defs = build_definitions(settings)
    platform.publish(review_end_event(project_id=99999999))
    platform.tick()
    for _ in range(3):
        platform.retry_tick()
    [event] = platform.events()
    assert event.status is Status.FAILED
    assert event.reason.startswith("gave up after 2 attempts: the project for legacy project 99999999")


def test_cursor_carries_offsets_across_ticks(platform: Platform) -> None:
    platform.publish(review_end_event(phase_id=1))
    platform.tick()
    cursor = KafkaCursor.parse(platform.cursor)
    assert sum(cursor.offsets[platform.topic].values()) == 1
    assert platform.tick().run_requests == []  # nothing new: nothing read twice
    platform.publish(review_end_event(phase_id=2), review_end_event(phase_id=3))
    result = platform.tick()
    assert len(result.run_requests) == 1  # one run per round and batch, not one per message
    assert len(inbox_ids_of(result.run_requests[0].tags)) == 2
    assert sum(KafkaCursor.parse(platform.cursor).offsets[platform.topic].values()) == 3
    assert len(platform.events()) == 3


def test_a_tick_that_is_evaluated_again_requests_the_same_run(platform: Platform) -> None:
    """A failed tick keeps its old cursor and the daemon re-reads the same offsets: the inbox holds
    each message once and the run key is the same, so Dagster launches one run."""
    platform.publish(review_end_event())
    start = platform.cursor
    first = platform.tick()
    platform.cursor = start
    second = platform.tick()
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in second.run_requests]
    assert first.run_requests[0].tags == second.run_requests[0].tags
    assert len(platform.events()) == 1


def test_broker_down_fails_the_tick_and_keeps_the_cursor(platform: Platform, tmp_path: Path) -> None:
    platform.publish(review_end_event())
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path / "s3"),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "MM_PLATFORM_KAFKA_TIMEOUT_SECONDS": "2",
            "MM_PLATFORM_TOPIC_AUTOPILOT": platform.topic,
            "MM_PLATFORM_OLTP_DB_URL": platform.settings.oltp_db_url,
            "MM_PLATFORM_PLATFORM_DB_URL": platform.settings.platform_db_url,
        }
    )
    down = build_definitions(settings)
    sensor = down.get_repository_def().get_sensor_def(SENSOR)
    with pytest.raises(Exception, match=r"Kafka at 127\.0\.0\.1:1 is unreachable"):
        sensor.evaluate_tick(
            build_sensor_context(
                instance=platform.instance,
                instance_ref=platform.instance.get_ref(),
                cursor=platform.cursor,
                resources=down.resources,
                definitions=down,
            )
        )
    assert platform.events() == []
    # the broker is back: the same event is read and runs
    assert len(platform.tick().run_requests) == 1


def test_a_failed_run_marks_its_events_failed_with_the_step_and_error(platform: Platform) -> None:
    platform.publish(review_end_event())
    [request] = platform.tick().run_requests
    with engine_for(platform.settings.oltp_db_url).begin() as conn:
        conn.execute(long_comp_result.delete())
        conn.exec_driver_sql("DELETE FROM round")
    result = platform.run(request)
    assert not result.success
    [event] = platform.events()
    assert event.status is Status.FAILED
    assert "marathon__long_comp_result_attendance" in event.reason
    assert f"round {SAMPLE_ROUND_ID} is not in the OLTP database" in event.reason
    # an operator fixes the data and replays: the event goes back to RETRY for the schedule
    assert platform.inbox.replay(platform.topic) == 1
    assert platform.events()[0].status is Status.RETRY
