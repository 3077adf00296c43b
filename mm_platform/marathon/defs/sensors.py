"""The review-END sensor and its retry schedule (spec 1.1/1.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster import AssetsDefinition, ScheduleDefinition, SensorDefinition

from mm_platform.core.inbox import Verdict
from mm_platform.core.jobs import ChainJob
from mm_platform.core.sensors import (
    PayloadError,
    Router,
    RouterContext,
    make_inbox_retry_schedule,
    make_kafka_sensor,
)
from mm_platform.core.settings import Settings
from mm_platform.marathon.defs.partitions import rounds_partitions
from mm_platform.marathon.rules.events import EventError, parse_phase_event
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores import oltp
from mm_platform.marathon.stores.schema import MARATHON_PROJECT_CATEGORY_ID

ROUND_JOB = "marathon_round_job"


def build_round_job(chain: Sequence[AssetsDefinition]) -> ChainJob:
    """One run per round materializes the chain in one process: a process per step would add
    seconds per asset to the event-to-result latency. With delegated ratings the chain ends at the
    calculation request; the rest follows the service's report through automation."""
    return ChainJob(
        ROUND_JOB, chain, rounds_partitions, "What a round's review END starts, in one in-process run."
    )


REVIEW_END = "review.end"


def review_end_router(context: RouterContext) -> Router:
    """Routes autopilot phase events: Review END of a marathon project -> a run for its round."""
    engine = context.resources.oltp_db.get_engine()
    lookups: dict[int, tuple[int | None, int | None]] = {}

    def lookup(project_id: int) -> tuple[int | None, int | None]:
        if project_id not in lookups:
            with engine.connect() as conn:
                lookups[project_id] = (
                    oltp.project_category(conn, project_id),
                    oltp.round_for_project(conn, project_id),
                )
        return lookups[project_id]

    def route(envelope: dict[str, Any]) -> Verdict:
        try:
            event = parse_phase_event(envelope)
        except EventError as exc:
            raise PayloadError(str(exc)) from exc
        entity = f"project-{event.project_id}"
        if not event.is_review_end:
            return Verdict.ignored(
                f"phase {event.phase_type} {event.state} is not Review END",
                event_type=f"phase.{event.phase_type.lower()}.{event.state.lower()}",
                entity_key=entity,
            )
        category, round_id = lookup(event.project_id)
        if category is not None and category != MARATHON_PROJECT_CATEGORY_ID:
            return Verdict.ignored(
                f"project {event.project_id} is not a marathon match (project_category_id {category})",
                event_type=REVIEW_END,
                entity_key=entity,
            )
        if round_id is None:
            missing = "the project" if category is None else "the round mapping (project_info type 56)"
            return Verdict.retry(
                f"{missing} for legacy project {event.project_id} is not in the OLTP database yet",
                event_type=REVIEW_END,
                entity_key=entity,
                dedup_key=event.identity,
            )
        return Verdict.run(str(round_id), event_type=REVIEW_END, entity_key=entity, dedup_key=event.identity)

    return route


def build_review_end_sensor(settings: Settings, job: ChainJob) -> SensorDefinition:
    topic = settings.section(MarathonSettings).topics.autopilot
    return make_kafka_sensor(
        settings,
        name="marathon_review_end_sensor",
        topics=[topic],
        job=job,
        router_factory=review_end_router,
        required_resource_keys={"oltp_db"},
        description=(
            f"Reads {topic}; a Review END of a marathon project adds its round as a partition and runs the "
            "round's chain. Every message is kept in the event inbox."
        ),
    )


def build_review_end_retry_schedule(settings: Settings, job: ChainJob) -> ScheduleDefinition:
    return make_inbox_retry_schedule(
        settings,
        name="marathon_review_end_retry",
        topic=settings.section(MarathonSettings).topics.autopilot,
        job=job,
        router_factory=review_end_router,
        required_resource_keys={"oltp_db"},
    )
