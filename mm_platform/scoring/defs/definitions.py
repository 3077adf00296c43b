"""The scoring domain's Dagster definitions for the settings."""

from dagster import Definitions

from mm_platform.core.automation import automation_sensor
from mm_platform.core.aws import aws_kwargs
from mm_platform.core.settings import Settings
from mm_platform.scoring.defs.assets import GROUP, challenge_leaderboard, submission_events, submission_scores
from mm_platform.scoring.defs.sensors import (
    build_challenge_job,
    build_submission_retry_schedule,
    build_submission_sensor,
)
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores.config_store import ChallengeConfigStore
from mm_platform.scoring.stores.resources import ScoringResource
from mm_platform.scoring.stores.submission_api import SubmissionApi


def scoring_definitions(settings: Settings) -> Definitions:
    scoring = settings.section(ScoringSettings)
    job = build_challenge_job()
    return Definitions(
        assets=[submission_events, submission_scores, challenge_leaderboard],
        jobs=[job.definition],
        sensors=[
            build_submission_sensor(settings, job),
            automation_sensor(GROUP, "Refreshes a challenge's leaderboard after a manual re-scoring."),
        ],
        schedules=[build_submission_retry_schedule(settings, job)],
        resources={
            "challenge_configs": ChallengeConfigStore(**aws_kwargs(settings)),
            "submission_api": SubmissionApi(base_url=scoring.submission_api_url),
            "scoring": ScoringResource(
                **aws_kwargs(settings),
                launcher_kind=scoring.launcher,
                reviewer_id=scoring.reviewer_id,
                max_attempts=scoring.max_attempts,
                max_scorers_per_run=scoring.max_scorers_per_run,
                ecs_subnets=list(scoring.ecs_subnets),
                ecs_security_groups=list(scoring.ecs_security_groups),
                ecs_container=scoring.ecs_container,
                k8s_namespace=scoring.k8s_namespace,
                k8s_kubeconfig_file=scoring.k8s_kubeconfig_file,
            ),
        },
    )
