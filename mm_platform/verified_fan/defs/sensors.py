"""Files landing in the scoring bucket -> file intake runs -> campaign runs.

`verified_fan_scoring_bucket_sensor` records every object version in the inbox and starts one intake
run per new version. `verified_fan_staged_parts_sensor` turns staged parts into campaign runs: it
adds the campaign as a partition and requests one run per campaign and kind, keyed by the newest
staged part, so a part is requested once and a run that failed is not requested again until another
file for the campaign arrives (the next run applies the left-over parts too).
"""

from __future__ import annotations

from collections import defaultdict

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from mm_platform.core.inbox import Verdict
from mm_platform.core.jobs import ChainJob
from mm_platform.core.s3_sensor import S3Object, make_s3_sensor
from mm_platform.core.sensors import SOURCE_TAG, make_inbox_retry_schedule
from mm_platform.core.settings import Settings
from mm_platform.verified_fan.defs.assets import (
    FANLIST_JOB,
    REGISTRANTS_JOB,
    campaign_counts,
    demand_registrations,
    entry_scoring,
    fanlist_scores,
    scored_registrants,
    verdict_report,
)
from mm_platform.verified_fan.defs.intake_job import verified_fan_file_job
from mm_platform.verified_fan.defs.partitions import campaigns_partitions
from mm_platform.verified_fan.rules.scoring import FANLIST, SCRUBBED
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.intake import PREFIX_KINDS, kind_of
from mm_platform.verified_fan.stores.ledger import Ledger, Part

PARTS_TAG = "mm_platform/vf_parts"


def build_campaign_jobs() -> dict[str, ChainJob]:
    """One in-process run per campaign and file kind applies its parts and reports the counts."""
    return {
        SCRUBBED: ChainJob(
            REGISTRANTS_JOB,
            [scored_registrants, demand_registrations, entry_scoring, campaign_counts, verdict_report],
            campaigns_partitions,
            "Applies a campaign's staged scrubbed/ parts: demand table, entry scoring, counts and report.",
        ),
        FANLIST: ChainJob(
            FANLIST_JOB,
            [fanlist_scores, campaign_counts, verdict_report],
            campaigns_partitions,
            "Applies a campaign's staged fanlist/scored/ parts: fanlist entries, counts, report.",
        ),
    }


def route_scored_file(obj: S3Object) -> Verdict:
    """Every object under the watched prefixes is a file to read, except folder markers and empty files."""
    kind = kind_of(obj.key)
    if obj.key.endswith("/") or kind is None:
        return Verdict.ignored("a folder marker, not a scored file", entity_key=obj.key)
    event_type = f"vf.{kind}.file"
    if obj.size == 0:
        return Verdict.invalid("the file is empty", event_type=event_type, entity_key=obj.key)
    return Verdict.run(None, event_type=event_type, entity_key=obj.key, dedup_key=obj.ref)


def build_scoring_bucket_sensor(settings: Settings) -> SensorDefinition:
    bucket = settings.section(VerifiedFanSettings).scoring_bucket
    return make_s3_sensor(
        name="verified_fan_scoring_bucket_sensor",
        bucket=bucket,
        prefixes=list(PREFIX_KINDS),
        job=verified_fan_file_job,
        router_factory=lambda _context: route_scored_file,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        description=(
            f"Lists s3://{bucket}/ scrubbed/ and fanlist/scored/; every new object version (a re-upload "
            "too) is kept in the event inbox and read by one file intake run."
        ),
    )


def build_file_retry_schedule(settings: Settings) -> ScheduleDefinition:
    """Dispatches files put back to RETRY (`mm-platform replay --topic s3://<bucket>`) again."""
    return make_inbox_retry_schedule(
        settings,
        name="verified_fan_file_retry",
        topic=f"s3://{settings.section(VerifiedFanSettings).scoring_bucket}",
        job=verified_fan_file_job,
        router_factory=lambda _context: lambda payload: route_scored_file(S3Object(**payload)),
        required_resource_keys=set(),
    )


def campaign_run_requests(parts: list[Part], source: str, jobs: dict[str, ChainJob]) -> list[RunRequest]:
    """One run per campaign and kind for the STAGED parts, keyed by the newest part."""
    groups: dict[tuple[str, str], list[Part]] = defaultdict(list)
    for part in parts:
        groups[(part.kind, part.campaign_id)].append(part)
    return [
        jobs[kind].run_request(
            run_key=f"{kind}|{campaign}|part-{max(p.id for p in group)}",
            partition_key=campaign,
            tags={
                PARTS_TAG: ",".join(str(p.id) for p in sorted(group, key=lambda p: p.id)),
                SOURCE_TAG: source,
            },
        )
        for (kind, campaign), group in sorted(groups.items())
    ]


def build_staged_parts_sensor(settings: Settings, jobs: dict[str, ChainJob]) -> SensorDefinition:
    name = "verified_fan_staged_parts_sensor"

    @sensor(
        name=name,
        jobs=[job.definition for job in jobs.values()],
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"platform_db"},
        description="Staged file parts become campaign runs; each campaign becomes a partition.",
    )
    def staged_parts_sensor(context: SensorEvaluationContext) -> SensorResult:
        parts = Ledger(context.resources.platform_db.get_engine()).pending()
        requests = campaign_run_requests(parts, name, jobs)
        new_campaigns = sorted(
            {
                r.partition_key
                for r in requests
                if r.partition_key
                and not context.instance.has_dynamic_partition(campaigns_partitions.name, r.partition_key)
            }
        )
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[campaigns_partitions.build_add_request(new_campaigns)]
            if new_campaigns
            else [],
            skip_reason=None if requests else "no staged part waiting",
        )

    return staged_parts_sensor
