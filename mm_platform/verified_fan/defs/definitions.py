"""The Verified Fan domain's Dagster definitions for the settings."""

from dagster import Definitions

from mm_platform.core.automation import automation_sensor
from mm_platform.core.secrets import bound_secret, bound_url
from mm_platform.core.settings import Settings
from mm_platform.core.slack import SlackNotifier
from mm_platform.verified_fan.defs.assets import (
    campaign_counts,
    demand_registrations,
    entry_scoring,
    fanlist_scores,
    scored_registrants,
    verdict_report,
)
from mm_platform.verified_fan.defs.intake_job import GROUP, scoring_bucket, verified_fan_file_job
from mm_platform.verified_fan.defs.sensors import (
    build_campaign_jobs,
    build_file_retry_schedule,
    build_scoring_bucket_sensor,
    build_staged_parts_sensor,
)
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.resources import VerifiedFanStore
from mm_platform.verified_fan.stores.services import CampaignService, EntryService


def verified_fan_definitions(settings: Settings) -> Definitions:
    vf = settings.section(VerifiedFanSettings)
    campaign_jobs = build_campaign_jobs(vf.executor)
    return Definitions(
        assets=[
            scoring_bucket,
            scored_registrants,
            demand_registrations,
            entry_scoring,
            fanlist_scores,
            campaign_counts,
            verdict_report,
        ],
        jobs=[verified_fan_file_job, *(job.definition for job in campaign_jobs.values())],
        sensors=[
            build_scoring_bucket_sensor(settings),
            build_staged_parts_sensor(settings, campaign_jobs),
            automation_sensor(GROUP, "Propagates re-materializations down to the counts and the report."),
        ],
        schedules=[build_file_retry_schedule(settings)],
        resources={
            "verified_fan": VerifiedFanStore(
                scoring_bucket=vf.scoring_bucket,
                staging_bucket=vf.staging_bucket,
                demand_table=vf.demand_table,
                scores_stream=vf.scores_stream,
                campaign_data_stream=vf.campaign_data_stream,
                slack_channel=vf.slack_channel,
                write_workers=vf.write_workers,
                max_file_bytes=vf.max_file_bytes,
                part_max_attempts=vf.part_max_attempts,
                create_table=settings.embedded,
            ),
            "entry_service": EntryService(
                base_url=bound_url(vf.entry_service_url, "MM_PLATFORM_VF_ENTRY_SERVICE_URL"),
                token=bound_secret("MM_PLATFORM_VF_ENTRY_SERVICE_TOKEN"),
            ),
            "campaign_service": CampaignService(
                base_url=bound_url(vf.campaign_service_url, "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL"),
                token=bound_secret("MM_PLATFORM_VF_CAMPAIGN_SERVICE_TOKEN"),
            ),
            # without a token (the embedded stack) messages are kept in the platform database
            "slack": SlackNotifier(
                token=bound_secret("MM_PLATFORM_SLACK_TOKEN"),
                base_url=settings.section(VerifiedFanSettings).slack_base_url,
                outbox_db_url=bound_url(settings.platform_db_url, "MM_PLATFORM_PLATFORM_DB_URL"),
            ),
        },
    )
