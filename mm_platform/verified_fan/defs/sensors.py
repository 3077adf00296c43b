"""Files landing in the scoring bucket -> file intake runs -> campaign runs.

`verified_fan_scoring_bucket_sensor` records every object version in the inbox and starts one intake
run per new version. `verified_fan_staged_parts_sensor` turns staged parts into campaign runs: it
adds the campaign as a partition and requests one run per campaign and kind, keyed by the newest
staged part, so a part is requested once. Parts a failed run left behind (still STAGED, or applied
but not entry-scored) are requested again once they and the campaign's last run are older than
`MM_PLATFORM_VF_RETRY_AFTER_MINUTES`, with the attempt number in the run key, unless a run for the
campaign is queued or in progress (it takes them anyway).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    ExecutorDefinition,
    RunRecord,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    in_process_executor,
    sensor,
)

from mm_platform.core.inbox import Verdict
from mm_platform.core.jobs import ChainJob
from mm_platform.core.s3_sensor import S3Object, make_s3_sensor
from mm_platform.core.sensors import SOURCE_TAG, make_inbox_retry_schedule
from mm_platform.core.settings import Settings
from mm_platform.verified_fan.defs.assets import (
    CAMPAIGN_JOBS,
    FANLIST_JOB,
    IN_FLIGHT,
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
from mm_platform.verified_fan.settings import IN_PROCESS, VerifiedFanSettings
from mm_platform.verified_fan.stores.intake import PREFIX_KINDS, kind_of
from mm_platform.verified_fan.stores.ledger import STAGED, Ledger, Part

PARTS_TAG = "mm_platform/vf_parts"


def build_campaign_jobs(executor: str = IN_PROCESS) -> dict[str, ChainJob]:
    """One run per campaign and file kind applies its parts and reports the counts: in process, or
    with `executor="k8s"` each step in its own Kubernetes Job (`MM_PLATFORM_VF_EXECUTOR`)."""
    executor_def = in_process_executor if executor == IN_PROCESS else _k8s_job_executor()
    return {
        SCRUBBED: ChainJob(
            REGISTRANTS_JOB,
            [scored_registrants, demand_registrations, entry_scoring, campaign_counts, verdict_report],
            campaigns_partitions,
            "Applies a campaign's staged scrubbed/ parts: demand table, entry scoring, counts and report.",
            executor_def=executor_def,
        ),
        FANLIST: ChainJob(
            FANLIST_JOB,
            [fanlist_scores, campaign_counts, verdict_report],
            campaigns_partitions,
            "Applies a campaign's staged fanlist/scored/ parts: fanlist entries, counts, report.",
            executor_def=executor_def,
        ),
    }


def _k8s_job_executor() -> ExecutorDefinition:
    from dagster_k8s import k8s_job_executor  # imported only when chosen

    return k8s_job_executor


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


# (kind, campaign, its unfinished parts) -> the attempt number of a retry that is due, else None
RetryPolicy = Callable[[str, str, list[Part]], int | None]


def campaign_run_requests(
    parts: list[Part], source: str, jobs: dict[str, ChainJob], retry: RetryPolicy | None = None
) -> list[RunRequest]:
    """One run per campaign and kind for the STAGED parts, keyed by the newest part; for unfinished
    parts whose retry is due, keyed by the newest part and the attempt number."""
    groups: dict[tuple[str, str], list[Part]] = defaultdict(list)
    for part in parts:
        groups[(part.kind, part.campaign_id)].append(part)
    requests = []
    for (kind, campaign), group in sorted(groups.items()):
        staged = [p.id for p in group if p.status == STAGED]
        attempt = retry(kind, campaign, group) if retry is not None else None
        if attempt is not None:
            run_key = f"{kind}|{campaign}|part-{max(p.id for p in group)}|retry-{attempt}"
        elif staged:
            run_key = f"{kind}|{campaign}|part-{max(staged)}"
        else:
            continue  # only a retry finishes parts that are applied already
        requests.append(
            jobs[kind].run_request(
                run_key=run_key,
                partition_key=campaign,
                tags={
                    PARTS_TAG: ",".join(str(p.id) for p in sorted(group, key=lambda p: p.id)),
                    SOURCE_TAG: source,
                },
            )
        )
    return requests


def retry_due(
    newest_staged: dt.datetime, last_run_end: dt.datetime | None, now: dt.datetime, after: dt.timedelta
) -> bool:
    """Parts left behind are tried again once they, and the campaign's last run, are `after` old: the
    first run has had its chance, and a failing dependency is not hammered."""
    return newest_staged <= now - after and (last_run_end is None or last_run_end <= now - after)


def _ended(record: RunRecord) -> dt.datetime:
    """When a run ended (else last changed), as the ledger keeps times (UTC, naive)."""
    if record.end_time is not None:
        return dt.datetime.fromtimestamp(record.end_time, dt.timezone.utc).replace(tzinfo=None)
    changed = record.update_timestamp
    return changed.astimezone(dt.timezone.utc).replace(tzinfo=None) if changed.tzinfo else changed


def retry_policy(
    instance: DagsterInstance, jobs: dict[str, ChainJob], after: dt.timedelta, now: dt.datetime
) -> RetryPolicy:
    """Retries as the instance's runs allow: none while a run for the campaign is queued or in
    progress, none before the campaign's job ran once (the first request is still coming), and the
    attempt number is the count of the job's runs for the campaign so far (a new run key each)."""

    def attempt(kind: str, campaign: str, parts: list[Part]) -> int | None:
        if not retry_due(max(p.staged_at for p in parts), None, now, after):
            return None  # young parts: no need to ask the instance
        in_flight = instance.get_run_records(
            RunsFilter(tags={"dagster/partition": campaign}, statuses=IN_FLIGHT), limit=20
        )
        if any(r.dagster_run.job_name in CAMPAIGN_JOBS for r in in_flight):
            return None
        runs = RunsFilter(job_name=jobs[kind].name, tags={"dagster/partition": campaign})
        last = instance.get_run_records(runs, limit=1)
        if not last:
            return None
        if not retry_due(max(p.staged_at for p in parts), _ended(last[0]), now, after):
            return None
        return instance.get_runs_count(runs)

    return attempt


def build_staged_parts_sensor(settings: Settings, jobs: dict[str, ChainJob]) -> SensorDefinition:
    name = "verified_fan_staged_parts_sensor"
    retry_after = dt.timedelta(minutes=settings.section(VerifiedFanSettings).retry_after_minutes)

    @sensor(
        name=name,
        jobs=[job.definition for job in jobs.values()],
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"platform_db"},
        description="Staged file parts become campaign runs; each campaign becomes a partition. Parts a "
        "failed run left behind are requested again after a while (MM_PLATFORM_VF_RETRY_AFTER_MINUTES).",
    )
    def staged_parts_sensor(context: SensorEvaluationContext) -> SensorResult:
        parts = Ledger(context.resources.platform_db.get_engine()).unfinished()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        retry = retry_policy(context.instance, jobs, retry_after, now)
        requests = campaign_run_requests(parts, name, jobs, retry)
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
