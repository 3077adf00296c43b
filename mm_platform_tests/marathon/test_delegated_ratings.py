"""Delegated ratings: the round's run asks a ratings service (a real local HTTP server here) to
calculate, the service's Kafka report materializes round_ratings, and automation takes the DW loads
from there."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetSelection,
    DagsterInstance,
    Definitions,
    build_sensor_context,
    evaluate_automation_conditions,
    instance_for_test,
)

from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sensors import KafkaCursor
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, load_sample_data, review_end_event
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores.round_ratings import rate_round_in_oltp, rating_input
from mm_platform_tests.conftest import RecordingServer
from mm_platform_tests.runs import execute_request

ROUND = str(SAMPLE_ROUND_ID)

# this code location's other domains have automation conditions of their own
MARATHON = AssetSelection.groups("marathon")


@dataclass
class Delegated:
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    kafka: KafkaResource
    cursors: dict

    def tick(self, sensor_name: str):
        sensor = self.defs.get_repository_def().get_sensor_def(sensor_name)
        context = build_sensor_context(
            instance=self.instance,
            instance_ref=self.instance.get_ref(),
            cursor=self.cursors.get(sensor_name),
            resources=self.defs.resources,
            definitions=self.defs,
        )
        result = sensor.evaluate_tick(context)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for event in result.asset_events or []:  # what the daemon does with reported asset events
            self.instance.report_runless_asset_event(event)
        self.cursors[sensor_name] = result.cursor
        return result

    def inbox(self) -> EventInbox:
        inbox = EventInbox(engine_for(self.settings.platform_db_url))
        inbox.create_schema()
        return inbox


def rating_event(
    event: str,
    status: str,
    round_id: int | str = SAMPLE_ROUND_ID,
    originator: str = "rating.calculation.service",
) -> str:
    return json.dumps(
        {
            "topic": "notification.rating.calculation",
            "originator": originator,
            "timestamp": f"2024-03-29T02:00:{len(event):02d}Z",
            "mime-type": "application/json",
            "payload": {"roundId": round_id, "event": event, "status": status},
        }
    )


@pytest.fixture
def delegated(
    kafka: KafkaResource, http_service: RecordingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Delegated]:
    topics = {name: f"test.{name}.{uuid.uuid4().hex[:6]}" for name in ("autopilot", "ratings")}
    kafka.create_topics({topics["autopilot"]: 1, topics["ratings"]: 1})
    monkeypatch.setenv("MM_PLATFORM_RATINGS_SERVICE_TOKEN", "secret-m2m-token")
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "MM_PLATFORM_TOPIC_AUTOPILOT": topics["autopilot"],
            "MM_PLATFORM_TOPIC_RATING_CALCULATION": topics["ratings"],
            "MM_PLATFORM_RATINGS_MODE": "delegated",
            "MM_PLATFORM_RATINGS_SERVICE_URL": f"{http_service.url}/v5",
        }
    )
    load_sample_data(settings.oltp_db_url)
    with instance_for_test() as instance:
        yield Delegated(settings, build_definitions(settings), instance, kafka, {})


def test_the_service_is_asked_and_its_report_drives_the_dw_loads(
    delegated: Delegated, http_service: RecordingServer
) -> None:
    delegated.kafka.produce(
        delegated.settings.section(MarathonSettings).topics.autopilot, [json.dumps(review_end_event())]
    )
    [request] = delegated.tick("marathon_review_end_sensor").run_requests
    run = execute_request(delegated.defs, delegated.instance, request, "marathon_round_job")
    assert run.success
    assert {e.asset_key.path[-1] for e in run.get_asset_materialization_events()} == {
        "long_comp_result_attendance",
        "ratings_calculation_request",
    }
    [call] = http_service.requests
    assert (call.method, call.path, call.body) == (
        "POST",
        "/v5/ratings/mm/calculate",
        {"roundId": SAMPLE_ROUND_ID},
    )
    assert call.headers["Authorization"] == "Bearer secret-m2m-token"
    before = evaluate_automation_conditions(
        defs=delegated.defs, instance=delegated.instance, asset_selection=MARATHON
    )
    assert before.total_requested == 0  # the DW loads wait for the service

    # the service rates the round in OLTP and reports it
    with engine_for(delegated.settings.oltp_db_url).begin() as conn:
        rating_input.create(conn, checkfirst=True)
        rate_round_in_oltp(conn, SAMPLE_ROUND_ID)
    delegated.kafka.produce(
        delegated.settings.section(MarathonSettings).topics.rating_calculation,
        [
            rating_event("RATINGS_CALCULATION", "SUCCESS"),
            rating_event("LOAD_CODERS", "SUCCESS"),
            rating_event("RATINGS_CALCULATION", "SUCCESS", originator="somebody.else"),
            rating_event("RATINGS_CALCULATION", "FAIL", round_id=990999),
            rating_event("RATINGS_CALCULATION", "SUCCESS", round_id="abc"),
            "{broken",
        ],
    )
    result = delegated.tick("marathon_rating_calculation_sensor")
    assert result.run_requests in (None, [])
    [materialization] = [e for e in result.asset_events if type(e).__name__ == "AssetMaterialization"]
    assert (materialization.asset_key, materialization.partition) == (
        AssetKey(["marathon", "round_ratings"]),
        ROUND,
    )
    [observation] = [e for e in result.asset_events if type(e).__name__ == "AssetObservation"]
    assert observation.partition == "990999" and observation.metadata["status"].value == "FAIL"

    events = delegated.inbox().select(
        topic=delegated.settings.section(MarathonSettings).topics.rating_calculation
    )
    assert [(e.status, e.reason) for e in events] == [
        (Status.NEW, None),
        (
            Status.IGNORED,
            "LOAD_CODERS is not used: the platform loads the DW itself (dw_coders, dw_mm_ratings)",
        ),
        (Status.IGNORED, "originator 'somebody.else' is not rating.calculation.service"),
        (Status.FAILED, "the ratings service failed to rate round 990999"),
        (Status.INVALID, "payload.roundId must be an integer, got 'abc'"),
        (Status.INVALID, events[5].reason),
    ]
    assert events[5].reason.startswith("malformed JSON")
    assert KafkaCursor.parse(delegated.cursors["marathon_rating_calculation_sensor"]).reported == (
        events[0].id,
    )

    after = evaluate_automation_conditions(
        defs=delegated.defs, instance=delegated.instance, asset_selection=MARATHON, cursor=before.cursor
    )
    requested = {r.key.path[-1] for r in after.results if r.true_subset.size > 0}
    assert {"dw_coders", "dw_mm_ratings"} <= requested

    # the next tick marks the reported event HANDLED, once Dagster has stored the report
    delegated.tick("marathon_rating_calculation_sensor")
    assert delegated.inbox().get([events[0].id])[0].status is Status.HANDLED


def test_a_service_that_is_down_fails_the_request_step(
    delegated: Delegated, http_service: RecordingServer
) -> None:
    http_service.status = 503
    delegated.instance.add_dynamic_partitions("marathon_round", [ROUND])
    run = delegated.defs.resolve_job_def("marathon_round_job").execute_in_process(
        instance=delegated.instance, partition_key=ROUND, raise_on_error=False
    )
    assert not run.success
    [failure] = run.get_step_failure_events()
    assert failure.step_key == "marathon__ratings_calculation_request"
    assert "answered 503" in failure.event_specific_data.error.to_string()
    assert len(http_service.requests) == 4  # the first call and three retries
