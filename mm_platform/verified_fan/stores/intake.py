"""File intake: one scored file read, validated and staged per campaign, its bad rows recorded.

This is the once-per-file work; campaign runs then apply the staged parts. A file that cannot be
read as a whole (not UTF-8 CSV, empty, a header naming a column twice or missing a required one,
broken gzip, larger than the cap) is refused with the reason and
stages nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

from mm_platform.core.s3_sensor import S3Object
from mm_platform.verified_fan.rules.records import rank0_count
from mm_platform.verified_fan.rules.scoring import (
    DEFAULT_MAX_FILE_BYTES,
    FANLIST,
    SCRUBBED,
    FileError,
    inflate,
    read_csv,
    validate,
)
from mm_platform.verified_fan.stores.ledger import Ledger, Part
from mm_platform.verified_fan.stores.staging import part_key, put_part

# the watched prefixes of the scoring bucket and the kind of file under each
PREFIX_KINDS = {"scrubbed/": SCRUBBED, "fanlist/scored/": FANLIST}


def kind_of(key: str) -> str | None:
    return next((kind for prefix, kind in PREFIX_KINDS.items() if key.startswith(prefix)), None)


def upload_order(obj: S3Object) -> str:
    """Sorts files by upload (last-modified is ISO 8601 UTC, so text order is time order)."""
    return f"{obj.last_modified}|{obj.key}|{obj.etag}"


class ObjectGoneError(RuntimeError):
    """The object was deleted or replaced by a newer upload before it could be read."""


@dataclass
class IntakeOutcome:
    kind: str
    rows_in: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    parts: list[Part] = field(default_factory=list)
    rejects: pd.DataFrame | None = None  # row, campaign_id, member_key, reason
    unattributed: int = 0  # refused rows whose campaign has no part (no valid row or no usable id)
    file_error: str | None = None

    @property
    def campaigns(self) -> list[str]:
        return [p.campaign_id for p in self.parts]


READ_CHUNK_BYTES = 1 << 20


def read_object(s3: Any, obj: S3Object, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    """The bytes of exactly the listed version (IfMatch on its ETag), gzip inflated, streamed in
    chunks so that a file over `max_bytes` (decompressed: a gzip bomb) stops early with
    `FileTooLargeError` instead of filling the worker's memory."""
    try:
        body = s3.get_object(Bucket=obj.bucket, Key=obj.key, IfMatch=obj.etag)["Body"]
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in ("NoSuchKey", "404"):
            raise ObjectGoneError(f"s3://{obj.bucket}/{obj.key} is no longer in the bucket") from exc
        if code in ("PreconditionFailed", "412"):
            raise ObjectGoneError(
                f"s3://{obj.bucket}/{obj.key} was replaced by a newer upload before it was read"
            ) from exc
        raise
    try:
        return inflate(body.iter_chunks(READ_CHUNK_BYTES), max_bytes)
    finally:
        body.close()


def stage_file(
    s3: Any,
    obj: S3Object,
    *,
    staging_bucket: str,
    ledger: Ledger,
    inbox_id: int | None,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> IntakeOutcome:
    kind = kind_of(obj.key)
    if kind is None:
        raise ValueError(f"{obj.key} is under none of the watched prefixes {sorted(PREFIX_KINDS)}")
    outcome = IntakeOutcome(kind)
    try:
        result = validate(read_csv(read_object(s3, obj, max_bytes), max_bytes), kind)
    except FileError as exc:
        outcome.file_error = str(exc)
        return outcome
    rejects, valid = result.rejects, result.valid
    outcome.rows_in, outcome.invalid, outcome.duplicates = result.rows_in, len(rejects), result.duplicates
    outcome.valid = result.rows_in - len(rejects)
    outcome.rejects = rejects
    ledger.record_rejects(
        [
            {
                "file_ref": obj.ref,
                "object_key": obj.key,
                "kind": kind,
                "line": int(r.row),
                "campaign_id": r.campaign_id,
                "member_key": r.member_key,
                "stage": "validation",
                "reason": r.reason,
            }
            for r in rejects.itertuples(index=False)
        ]
    )
    invalid_by_campaign = rejects["campaign_id"].value_counts().to_dict()
    parts = []
    for campaign_id, records in valid.groupby("campaign_id", sort=True, observed=True):
        campaign_id = str(campaign_id)
        valid_rows = result.valid_rows[campaign_id]
        invalid = int(invalid_by_campaign.get(campaign_id, 0))
        parts.append(
            {
                "object_key": obj.key,
                "kind": kind,
                "campaign_id": campaign_id,
                "upload_order": upload_order(obj),
                "inbox_id": inbox_id,
                "staged_uri": put_part(
                    s3, staging_bucket, part_key(obj.ref, campaign_id), records.reset_index(drop=True)
                ),
                "rows_in": valid_rows + invalid,
                "valid": valid_rows,
                "invalid": invalid,
                "duplicates": valid_rows - len(records),
                "records": len(records),
                "rank0": rank0_count(records),
            }
        )
    outcome.parts = ledger.replace_parts(obj.ref, parts)
    outcome.unattributed = len(rejects) - sum(p.invalid for p in outcome.parts)
    return outcome
