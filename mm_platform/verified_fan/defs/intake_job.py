"""The file intake run: one scored file, read once, validated and staged per campaign.

A file may hold several campaigns and its campaigns are only known once it is read, so files are not
partitions: the intake is a plain job (one run per object version, launched by the bucket sensor),
and what it found is recorded as an observation of the `scoring_bucket` asset. The staged parts then
become campaign runs (`sensors.staged_parts_sensor`).
"""

import warnings

from dagster import (
    AssetObservation,
    BetaWarning,
    Failure,
    MetadataValue,
    OpExecutionContext,
    in_process_executor,
    job,
    op,
)
from dagster_aws.s3 import S3Resource
from dagster_pandera import pandera_schema_to_dagster_type

from mm_platform.core.catalog import Catalog
from mm_platform.core.inbox import InboxResource, Status
from mm_platform.core.s3_sensor import S3Object
from mm_platform.core.sensors import inbox_ids_of
from mm_platform.core.sql import SqlDatabase
from mm_platform.verified_fan.defs.partitions import campaigns_partitions
from mm_platform.verified_fan.rules.contract import SCRUBBED_RECORDS
from mm_platform.verified_fan.stores.intake import IntakeOutcome, ObjectGoneError, stage_file
from mm_platform.verified_fan.stores.ledger import Ledger
from mm_platform.verified_fan.stores.resources import VerifiedFanStore

# every Verified Fan asset: key verified_fan/<name>, group verified_fan, its owners and tag; the
# campaign assets are partitioned by campaign
CAMPAIGNS = Catalog("verified_fan", owners=["team:verified-fan"], partitions_def=campaigns_partitions)
GROUP = CAMPAIGNS.domain
SCORING_BUCKET = CAMPAIGNS.key("scoring_bucket")
FILE_JOB = "verified_fan_file_job"
REJECTS_SHOWN = 20


def column_schema(schema) -> MetadataValue:
    """The file contract (a pandera schema) as the column schema the UI shows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # dagster-pandera's converter is marked beta
        return pandera_schema_to_dagster_type(schema).metadata["schema"]


scoring_bucket = CAMPAIGNS.spec(
    "scoring_bucket",
    kinds={"s3"},
    description=(
        "Scored CSV files (optionally gzip) landing in the scoring bucket: scored registrants under "
        "scrubbed/, fanlist scores under fanlist/scored/. Each object version is read once by the file "
        "intake; its observations list the file's rows, refused rows and campaigns."
    ),
    metadata={"dagster/column_schema": column_schema(SCRUBBED_RECORDS)},
)


def rejects_table(outcome: IntakeOutcome) -> MetadataValue:
    rejects = outcome.rejects
    if rejects is None or rejects.empty:
        return MetadataValue.md("none")
    lines = ["| line | campaign | member | reason |", "|---:|---|---|---|"]
    for r in rejects.head(REJECTS_SHOWN).itertuples(index=False):
        lines.append(f"| {r.row} | {r.campaign_id or '-'} | {r.member_key or '-'} | {r.reason} |")
    if len(rejects) > REJECTS_SHOWN:
        lines.append(f"\n… and {len(rejects) - REJECTS_SHOWN:,} more (`mm-platform vf rejects`)")
    return MetadataValue.md("\n".join(lines))


def _observation(obj: S3Object, outcome: IntakeOutcome | None, error: str | None = None) -> AssetObservation:
    metadata: dict = {"object": f"s3://{obj.bucket}/{obj.key}", "etag": obj.etag, "size": obj.size}
    if error is not None:
        metadata["refused"] = error
    if outcome is not None and error is None:
        metadata.update(
            {
                "kind": outcome.kind,
                "rows_in": outcome.rows_in,
                "valid": outcome.valid,
                "invalid": outcome.invalid,
                "duplicates": outcome.duplicates,
                "campaigns": MetadataValue.text(", ".join(outcome.campaigns) or "none"),
                "invalid_without_campaign_part": outcome.unattributed,
                "rejects": rejects_table(outcome),
            }
        )
    return AssetObservation(asset_key=SCORING_BUCKET, metadata=metadata)


@op(
    description="Reads a scored file once, records its bad rows with reasons and stages its good rows "
    "per campaign; a file that cannot be read as a whole is refused (inbox status INVALID)."
)
def stage_scored_file(
    context: OpExecutionContext,
    s3: S3Resource,
    inbox: InboxResource,
    platform_db: SqlDatabase,
    verified_fan: VerifiedFanStore,
) -> None:
    ids = inbox_ids_of(context.run.tags)
    if not ids:
        raise Failure(
            description="this job runs for the files the scoring bucket sensor records; to process a file "
            f"again: mm-platform replay --topic s3://{verified_fan.scoring_bucket} --entity <object key>"
        )
    box, ledger, client = inbox.get_inbox(), Ledger(platform_db.get_engine()), s3.get_client()
    for event in box.get(ids):
        obj = S3Object(**event.payload)
        try:
            outcome = stage_file(
                client,
                obj,
                staging_bucket=verified_fan.staging_bucket,
                ledger=ledger,
                inbox_id=event.id,
                max_bytes=verified_fan.max_file_bytes,
            )
        except ObjectGoneError as exc:
            box.transition([event.id], Status.IGNORED, str(exc))
            context.log.warning(str(exc))
            continue
        if outcome.file_error is not None:
            box.transition([event.id], Status.INVALID, f"file refused: {outcome.file_error}")
            context.log.warning(f"{obj.key} refused: {outcome.file_error}")
            context.log_event(_observation(obj, outcome, outcome.file_error))
            continue
        context.log.info(
            f"{obj.key}: {outcome.rows_in:,} rows, {outcome.invalid:,} refused, "
            f"{outcome.duplicates:,} duplicates; staged for {', '.join(outcome.campaigns) or 'no campaign'}"
        )
        context.log_event(_observation(obj, outcome))


@job(
    name=FILE_JOB,
    executor_def=in_process_executor,
    description="What a scored file landing in the bucket starts: read, validate, stage per campaign.",
)
def verified_fan_file_job() -> None:
    stage_scored_file()
