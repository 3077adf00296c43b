"""Verified Fan campaign assets, partitioned by campaign (spec assets 1-6).

Each asset takes the campaign's staged parts that are due for its step (see `ledger`), does its
step for all of them at once — their records merged in upload order, the latest file winning — and
marks the step done once that work succeeded (`steps.due_step`). A run launched for a new file
therefore also finishes whatever a failed run left, and any of these assets can be materialized on
its own from the UI.
"""

import datetime as dt
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    DagsterRunStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunsFilter,
)
from dagster_aws.s3 import S3Resource

from mm_platform.core.automation import upstream_updates_propagate
from mm_platform.core.aws import DynamoDBResource, KinesisResource, StreamStats
from mm_platform.core.slack import SlackNotifier
from mm_platform.core.sql import SqlDatabase
from mm_platform.verified_fan.defs.intake_job import CAMPAIGNS, column_schema, scoring_bucket
from mm_platform.verified_fan.rules.contract import FANLIST_RECORDS, SCRUBBED_RECORDS
from mm_platform.verified_fan.rules.records import (
    entry_record,
    fanlist_fields,
    rank0_count,
    rank0_rows,
    registrant_fields,
    score_record,
    unknown_campaign_reason,
    unknown_campaign_refusals,
)
from mm_platform.verified_fan.rules.report import verdict_message
from mm_platform.verified_fan.rules.scoring import FANLIST, SCRUBBED, ZERO, Counts
from mm_platform.verified_fan.stores.demand_store import SLACK_COUNTS_SK, DemandTable, WriteStats
from mm_platform.verified_fan.stores.ledger import APPLIED_AT, ENTRY_SCORED, PUBLISHED, Ledger, Part
from mm_platform.verified_fan.stores.resources import VerifiedFanStore, run_alive
from mm_platform.verified_fan.stores.services import CampaignService, EntryService
from mm_platform.verified_fan.stores.steps import DueStep, due_step

REGISTRANTS_JOB = "verified_fan_registrants_job"
FANLIST_JOB = "verified_fan_fanlist_job"
CAMPAIGN_JOBS = (REGISTRANTS_JOB, FANLIST_JOB)
ENTRY_BATCH = 500  # records per POST /scoring
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def run_owner(context: AssetExecutionContext) -> str:
    """The run that holds the campaign's counts lease: a retried run is its root run."""
    return context.run.root_run_id or context.run.run_id


def now_text() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def due_parts(
    context: AssetExecutionContext,
    platform_db: SqlDatabase,
    s3: S3Resource,
    verified_fan: VerifiedFanStore,
    kind: str,
    step: str,
    after: str | None = None,
) -> AbstractContextManager[DueStep]:
    """The partition's parts due for `step`, marked done by this run when the asset's work succeeded
    (a part failing `part_max_attempts` times is quarantined)."""
    ledger = Ledger(platform_db.get_engine())
    return due_step(
        ledger,
        s3.get_client(),
        context.partition_key,
        kind,
        step,
        run_owner(context),
        after=after,
        max_attempts=verified_fan.part_max_attempts,
    )


def input_counts(parts: list[Part], records: int) -> dict[str, int]:
    """The campaign's rows in the parts' files: in, valid, invalid, and duplicates — within a file,
    plus members a later file of the same run said again (`records` is what is left after both)."""
    return {
        "in": sum(p.rows_in for p in parts),
        "valid": sum(p.valid for p in parts),
        "invalid": sum(p.invalid for p in parts),
        "duplicates": sum(p.duplicates for p in parts) + sum(p.records for p in parts) - records,
    }


def table_metadata(table: str, counts: Counts | None) -> dict[str, Any]:
    """The campaign's member items in the demand table: every member has a verdict, so they are
    its verified plus its rejected members."""
    members = 0 if counts is None else counts.verified + counts.rejected
    return {"dagster/table_name": table, "dagster/row_count": members}


def _files(parts: list[Part]) -> MetadataValue:
    return MetadataValue.text(", ".join(dict.fromkeys(p.object_key for p in parts)) or "none pending")


def _stream(
    kinesis: KinesisResource, stream: str | None, records: Iterable[dict[str, Any]], key: str
) -> StreamStats:
    if not stream:
        return StreamStats()
    return kinesis.put_json(stream, records, partition_key=lambda r: str(r[key]))


@CAMPAIGNS.asset(
    "scored_registrants",
    deps=[scoring_bucket],
    kinds={"s3", "kinesis"},
    metadata={"dagster/column_schema": column_schema(SCRUBBED_RECORDS)},
    description=(
        "The campaign's scored registrants (was loadScoresToStream): rows of scrubbed/ files parsed, "
        "validated against the contract, ranked by market preference (rank 0 = first choice) and "
        "normalized, one record per member; bad rows are kept with their reason (`mm-platform vf "
        "rejects`). Published to the scores stream when one is configured."
    ),
)
def scored_registrants(
    context: AssetExecutionContext,
    s3: S3Resource,
    kinesis: KinesisResource,
    platform_db: SqlDatabase,
    verified_fan: VerifiedFanStore,
) -> MaterializeResult:
    with due_parts(context, platform_db, s3, verified_fan, SCRUBBED, PUBLISHED) as work:
        published = (score_record(r) for chunk in work.slices() for r in chunk)
        stream = _stream(kinesis, verified_fan.scores_stream, published, "memberId")
        if stream.failed:
            context.log.warning(
                f"{stream.failed} record(s) could not be published to {verified_fan.scores_stream}"
            )
    return MaterializeResult(
        metadata={
            **input_counts(work.parts, len(work.records)),
            "out": len(work.records),
            "failed": stream.failed,
            "rank0": rank0_count(work.records),
            "files": _files(work.parts),
            "scores_stream": MetadataValue.json(
                {"stream": verified_fan.scores_stream or "not configured", **stream.as_metadata()}
            ),
        }
    )


@CAMPAIGNS.asset(
    "demand_registrations",
    deps=[scored_registrants],
    kinds={"dynamodb"},
    automation_condition=upstream_updates_propagate(),
    description=(
        "The campaign's registrants in the demand table (was loadScoresToDynamoDB): "
        "campaign:{id} / member:{id}, upserted in batches; unchanged members cost no write. Each "
        "batch's count change, from the old and new images, goes to meta:counts in the same run."
    ),
)
def demand_registrations(
    context: AssetExecutionContext,
    s3: S3Resource,
    dynamodb: DynamoDBResource,
    platform_db: SqlDatabase,
    verified_fan: VerifiedFanStore,
) -> MaterializeResult:
    with due_parts(context, platform_db, s3, verified_fan, SCRUBBED, APPLIED_AT, after=PUBLISHED) as work:
        demand, stats = verified_fan.demand(dynamodb), WriteStats()
        for data in work.slices():
            written = demand.write_members(
                work.campaign_id,
                [(r["member_key"], registrant_fields(r)) for r in data],
                writer=work.owner,
                now=now_text(),
                holder_alive=run_alive(context.instance),
            )
            work.refuse(data, written.failed, "dynamodb")
            stats.add(written)
            stats.repaired_from = stats.repaired_from or written.repaired_from
        if stats.failed:
            context.log.warning(
                f"DynamoDB refused {len(stats.failed)} member(s); see `mm-platform vf rejects`"
            )
        if stats.repaired_from is not None:
            context.log.warning(
                f"a run that died left campaign {work.campaign_id}'s counts unsettled: recounted them"
            )
    return MaterializeResult(
        metadata={
            "in": stats.records,
            "success": stats.created + stats.updated + stats.unchanged,
            "created": stats.created,
            "updated": stats.updated,
            "unchanged": stats.unchanged,
            "older": stats.older,
            "invalid": sum(p.invalid for p in work.parts),
            "failed": len(stats.failed),
            "count_change": MetadataValue.json(stats.delta.as_dict()),
            "counts_recounted_from": MetadataValue.json(
                stats.repaired_from.as_dict() if stats.repaired_from else None
            ),
            "files": _files(work.parts),
            **table_metadata(verified_fan.demand_table, demand.counts(work.campaign_id)),
        }
    )


@CAMPAIGNS.asset(
    "entry_scoring",
    deps=[scored_registrants],
    kinds={"api"},
    automation_condition=upstream_updates_propagate(),
    description=(
        "Scoring of the campaign's rank-0 records (a first-choice event exists) in the Entry Service "
        "(was saveEntryScoring, REQ-006): POST /scoring in batches; the service's answers are summed."
    ),
)
def entry_scoring(
    context: AssetExecutionContext,
    s3: S3Resource,
    platform_db: SqlDatabase,
    entry_service: EntryService,
    verified_fan: VerifiedFanStore,
) -> MaterializeResult:
    answers, sent = [], 0
    with due_parts(context, platform_db, s3, verified_fan, SCRUBBED, ENTRY_SCORED, after=PUBLISHED) as work:
        for data in work.slices_per_part():
            rank0 = [entry_record(r) for r in rank0_rows(data)]
            sent += len(rank0)
            answers += [
                entry_service.post_scoring(work.campaign_id, rank0[start : start + ENTRY_BATCH])
                for start in range(0, len(rank0), ENTRY_BATCH)
            ]
        totals = {
            name: sum(int(a.get(name, 0)) for a in answers if isinstance(a.get(name, 0), int | float))
            for name in ("scoring", "inserted", "entries", "updated", "found")
        }
    return MaterializeResult(
        metadata={
            "records": len(work.records),
            "input": sent,
            **totals,
            "calls": len(answers),
            "files": _files(work.parts),
        }
    )


@CAMPAIGNS.asset(
    "fanlist_scores",
    deps=[scoring_bucket],
    kinds={"dynamodb", "kinesis"},
    metadata={"dagster/column_schema": column_schema(FANLIST_RECORDS)},
    description=(
        "The campaign's fanlist scores (was saveFanlistScores): fanlist/scored/ rows validated, one per "
        "member id / global user id / email keeping the highest score (REQ-005), with the campaign's "
        "properties from the Campaign Service, saved as fan/sid/email:{id} / campaign:{id} and published "
        "to the campaign data stream when one is configured."
    ),
)
def fanlist_scores(
    context: AssetExecutionContext,
    s3: S3Resource,
    dynamodb: DynamoDBResource,
    kinesis: KinesisResource,
    platform_db: SqlDatabase,
    campaign_service: CampaignService,
    verified_fan: VerifiedFanStore,
) -> MaterializeResult:
    with due_parts(context, platform_db, s3, verified_fan, FANLIST, APPLIED_AT) as work:
        campaign, records = work.campaign_id, work.records
        properties = campaign_service.find(campaign) if len(records) else None
        demand, stats, stream, rejected = verified_fan.demand(dynamodb), WriteStats(), StreamStats(), 0
        for data in work.slices():
            unknown = unknown_campaign_refusals(campaign, properties, data)
            if unknown:  # slices are never empty: an unknown campaign's are refused whole
                work.refuse(data, unknown, "campaign-service")
                rejected += len(unknown)
                continue
            entries = [(r["member_key"], fanlist_fields(r, properties)) for r in data]
            written = demand.write_fanlist(campaign, entries, now=now_text())
            work.refuse(data, written.failed, "dynamodb")
            stats.add(written)
            failed = {key for key, _ in written.failed}
            saved = [{"identifier": key, **fields} for key, fields in entries if key not in failed]
            stream.add(_stream(kinesis, verified_fan.campaign_data_stream, saved, "identifier"))
        if rejected:
            context.log.warning(f"{unknown_campaign_reason(campaign)}: {rejected} record(s) refused")
    counts = input_counts(work.parts, len(records))
    return MaterializeResult(
        metadata={
            "input": MetadataValue.json(
                {
                    "in": counts["in"],
                    "invalid": counts["invalid"],
                    "duplicate": counts["duplicates"],
                    "valid": len(records),
                }
            ),
            "dynamo": MetadataValue.json(
                {
                    "in": len(records),
                    "failed": len(stats.failed),
                    "out": stats.created + stats.updated + stats.unchanged,
                    "rejected": rejected,
                    "created": stats.created,
                    "updated": stats.updated,
                    "unchanged": stats.unchanged,
                }
            ),
            "stream": MetadataValue.json(
                {"stream": verified_fan.campaign_data_stream or "not configured", **stream.as_metadata()}
            ),
            "files": _files(work.parts),
            # fan entries are keyed by fan (fan/sid/email:{id}): counting a campaign's would take a scan
            "dagster/table_name": verified_fan.demand_table,
        }
    )


@CAMPAIGNS.asset(
    "campaign_counts",
    deps=[demand_registrations, fanlist_scores],
    kinds={"dynamodb"},
    automation_condition=upstream_updates_propagate(),
    check_specs=[
        AssetCheckSpec(
            "counts_match_recount",
            asset=CAMPAIGNS.key("campaign_counts"),
            blocking=True,
            description="meta:counts equals a recount of the campaign's member items; the verdict report "
            "waits for it.",
        )
    ],
    description=(
        "The campaign's verified / rejected / selected counts (meta:counts, was processSavedScores), kept "
        "by the member writes from old and new images. Counts a run that died, or a writer that lost "
        "its lease, left unsettled are recounted; the check recounts every time."
    ),
)
def campaign_counts(
    context: AssetExecutionContext, dynamodb: DynamoDBResource, verified_fan: VerifiedFanStore
) -> MaterializeResult:
    campaign, owner = context.partition_key, run_owner(context)
    demand = verified_fan.demand(dynamodb)
    alive = run_alive(context.instance)
    holder = demand.writer(campaign)
    repaired = None
    if holder is not None and str(holder["run"]) != owner and alive(str(holder["run"])):
        raise Failure(description=f"campaign {campaign} is being written by run {holder['run']}")
    if holder is not None or demand.recount_wanted(campaign):
        # the repair recounts under the lease: that recount is the check's
        repaired, recount = demand.repair_counts(campaign, owner, alive)
        why = "a run that died" if holder is not None else "a writer that lost its lease"
        context.log.warning(f"campaign {campaign}: {why} left its counts unsettled; recounted")
    else:
        recount = demand.recount(campaign)
    counts = demand.counts(campaign) or ZERO
    return MaterializeResult(
        metadata={
            **counts.as_dict(),
            "recount": MetadataValue.json(recount.as_dict()),
            "recounted_from": MetadataValue.json(repaired.as_dict() if repaired else None),
            **table_metadata(verified_fan.demand_table, recount),
        },
        check_results=[
            AssetCheckResult(
                check_name="counts_match_recount",
                passed=counts == recount,
                metadata={
                    "stored": MetadataValue.json(counts.as_dict()),
                    "recount": MetadataValue.json(recount.as_dict()),
                },
            )
        ],
    )


def in_flight(
    context: AssetExecutionContext, campaign: str, ledger: Ledger, demand: DemandTable
) -> list[str]:
    """What is still to come for the campaign; its counts are not final while anything is."""
    reasons = []
    waiting = ledger.waiting(campaign)
    if waiting:
        files = ", ".join(dict.fromkeys(p.object_key for p in waiting))
        reasons.append(f"{len(waiting)} staged part(s) not applied yet ({files})")
    runs = context.instance.get_run_records(
        RunsFilter(tags={"dagster/partition": campaign}, statuses=IN_FLIGHT), limit=20
    )
    others = [
        r.dagster_run.run_id
        for r in runs
        if r.dagster_run.job_name in CAMPAIGN_JOBS and r.dagster_run.run_id != context.run.run_id
    ]
    if others:
        reasons.append(f"campaign run(s) {', '.join(others)} queued or running")
    holder = demand.writer(campaign)
    if holder is not None:
        reasons.append(f"run {holder['run']} is writing the campaign's counts")
    return reasons


@CAMPAIGNS.asset(
    "verdict_report",
    deps=[campaign_counts],
    kinds={"slack"},
    automation_condition=upstream_updates_propagate(),
    description=(
        "The campaign's counts told to Slack (was verdictReporter) only when they differ from the last "
        "counts told (meta:slack:counts, REQ-003). While other work for the campaign is in flight the "
        "report is left to the run that finishes it, so partial counts are never posted."
    ),
)
def verdict_report(
    context: AssetExecutionContext,
    dynamodb: DynamoDBResource,
    platform_db: SqlDatabase,
    campaign_service: CampaignService,
    slack: SlackNotifier,
    verified_fan: VerifiedFanStore,
) -> MaterializeResult:
    campaign = context.partition_key
    ledger, demand = Ledger(platform_db.get_engine()), verified_fan.demand(dynamodb)
    waiting = in_flight(context, campaign, ledger, demand)
    if waiting:
        context.log.info(f"report deferred: {'; '.join(waiting)}")
        return MaterializeResult(
            metadata={"outcome": "deferred", "reason": MetadataValue.text("; ".join(waiting))}
        )
    counts = demand.counts(campaign)
    if counts is None:
        return MaterializeResult(metadata={"outcome": "no counts", "reason": "no registrant loaded yet"})
    previous = demand.counts(campaign, SLACK_COUNTS_SK)
    if counts == previous:
        return MaterializeResult(
            metadata={"outcome": "unchanged", **counts.as_dict(), "reason": "the counts were told already"}
        )
    files = [p.object_key for p in ledger.parts(campaign_id=campaign, limit=5)]
    text, attachments = verdict_message(campaign, campaign_service.find(campaign), counts, previous, files)
    posted = slack.post(verified_fan.slack_channel, text, attachments)
    if not demand.record_reported(campaign, counts, previous, now_text()):
        context.log.warning("another report stored its counts meanwhile; both messages went out")
    return MaterializeResult(
        metadata={
            "outcome": "posted",
            **counts.as_dict(),
            "previous": MetadataValue.json(previous.as_dict() if previous else None),
            "channel": verified_fan.slack_channel,
            "message": MetadataValue.text(text),
            "slack": posted,
        }
    )
