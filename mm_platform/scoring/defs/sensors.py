"""The submission sensor, its retry schedule and the challenge job (spec §1, §5)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from dagster import ScheduleDefinition, SensorDefinition

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
from mm_platform.scoring.defs.assets import challenge_leaderboard, challenges_partitions, submission_scores
from mm_platform.scoring.rules.config import ChallengeConfigError
from mm_platform.scoring.rules.events import IgnoredEvent, SubmissionEventError, parse_submission_event
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores.config_store import ChallengeConfigStore

SCORING_JOB = "scoring_challenge_job"
SUBMISSION_CREATE = "submission.create"
# runs of this job share the instance's `mm_platform/pool: scoring` slots (dagster.yaml), so a backlog
# of submissions never takes every run slot from the other domains
POOL_TAGS = {"mm_platform/pool": "scoring"}


def build_challenge_job() -> ChainJob:
    """One run per challenge scores the submissions a tick saw and refreshes the leaderboard in one
    process; the instance runs one at a time per challenge (the dagster/partition limit)."""
    return ChainJob(
        SCORING_JOB,
        [submission_scores, challenge_leaderboard],
        challenges_partitions,
        "Scores a challenge's new submissions and refreshes its leaderboard.",
        tags=POOL_TAGS,
    )


def submission_router(context: RouterContext) -> Router:
    """Submission events -> a run of their challenge; reviews, unknown challenges and bad input are
    settled at ingest (IGNORED / INVALID) and never start a run."""
    configs: ChallengeConfigStore = context.resources.challenge_configs

    def route(payload: dict[str, Any]) -> Verdict:
        try:
            event = parse_submission_event(payload)
        except SubmissionEventError as error:
            raise PayloadError(str(error)) from error
        if isinstance(event, IgnoredEvent):
            return Verdict.ignored(event.reason, event_type=f"submission.{event.resource or 'unknown'}")
        entity = event.identity
        try:
            config = configs.config(event.challenge_id)
        except ChallengeConfigError as error:
            return Verdict.invalid(str(error), event_type=SUBMISSION_CREATE, entity_key=entity)
        except (BotoCoreError, ClientError) as error:
            # SSM unreachable or refusing us: infrastructure, so the tick fails and its cursor stays
            raise ConnectionError(f"cannot read the challenge config from SSM: {error}") from error
        if config is None:
            return Verdict.invalid(
                f"unknown challenge {event.challenge_id}: no scoring configuration",
                event_type=SUBMISSION_CREATE,
                entity_key=entity,
            )
        return Verdict.run(
            event.challenge_id, event_type=SUBMISSION_CREATE, entity_key=entity, dedup_key=event.identity
        )

    return route


def build_submission_sensor(settings: Settings, job: ChainJob) -> SensorDefinition:
    topic = settings.section(ScoringSettings).topic
    return make_kafka_sensor(
        settings,
        name="scoring_submission_sensor",
        topics=[topic],
        job=job,
        router_factory=submission_router,
        required_resource_keys={"challenge_configs"},
        description=(
            f"Reads {topic}; a submission of a configured challenge adds the challenge as a partition "
            "and runs its scoring. Every message is kept in the event inbox."
        ),
    )


def build_submission_retry_schedule(settings: Settings, job: ChainJob) -> ScheduleDefinition:
    return make_inbox_retry_schedule(
        settings,
        name="scoring_submission_retry",
        topic=settings.section(ScoringSettings).topic,
        job=job,
        router_factory=submission_router,
        required_resource_keys={"challenge_configs"},
    )
