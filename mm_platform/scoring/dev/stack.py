"""The scoring part of the embedded stack: the submissions topic, the Submission API stand-in, the two
sample challenges' configs and the API token in moto's SSM, the sample submissions in moto S3."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mm_platform.core.aws import aws_kwargs, build_aws_resources
from mm_platform.core.devstack import ensure_bucket
from mm_platform.core.domain import StandIn
from mm_platform.core.settings import Settings
from mm_platform.scoring.dev.sample_data import EMBEDDED_API_TOKEN, SAMPLE_CONFIGS, sample_key
from mm_platform.scoring.dev.sample_submissions import (
    broken_submission,
    crashing_submission,
    good_submission,
)
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores.config_store import ChallengeConfigStore

TOPIC_PARTITIONS = 3
# good-1 .. good-4: no perfect one, so that MINIMIZE relative scores (best / score) are not all 0
GOOD_QUALITIES = (95, 90, 75, 50)


def sample_submissions() -> dict[str, bytes]:
    """The sample submissions by name: four good ones of falling quality, a broken and a crashing one."""
    good = {f"good-{i}": good_submission(q) for i, q in enumerate(GOOD_QUALITIES, start=1)}
    return {**good, "broken": broken_submission(), "crashing": crashing_submission()}


def topics(settings: Settings) -> Mapping[str, int]:
    return {settings.section(ScoringSettings).topic: TOPIC_PARTITIONS}


def standins(settings: Settings) -> Sequence[StandIn]:
    url = settings.section(ScoringSettings).submission_api_url
    return [StandIn("submission-api", url, "mm_platform.scoring.dev.submission_api_standin")]


def prepare_stack(settings: Settings) -> None:
    if not settings.aws_endpoint_url:
        return
    scoring, aws = settings.section(ScoringSettings), build_aws_resources(settings)
    configs = ChallengeConfigStore(**aws_kwargs(settings))
    for challenge_id, config in SAMPLE_CONFIGS.items():
        configs.put_config(challenge_id, config)
    configs.put_token(EMBEDDED_API_TOKEN)
    if scoring.submissions_bucket:
        ensure_bucket(settings.aws_endpoint_url, scoring.submissions_bucket, settings.aws_region)
        s3 = aws["s3"].get_client()
        for name, body in sample_submissions().items():
            # public-read: the scorer downloads it by its plain URL, as from Topcoder's public links
            s3.put_object(
                Bucket=scoring.submissions_bucket, Key=sample_key(name), Body=body, ACL="public-read"
            )
