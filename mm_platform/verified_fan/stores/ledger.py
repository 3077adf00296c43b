"""The Verified Fan ledger in the platform database: which file fed which campaign, and the rows
refused on the way.

A scored file is parsed and validated once; its good rows are staged per campaign as a "part"
(Parquet in S3). Each step of the campaign flow marks the parts it has done — published to the scores
stream, applied to the demand table (status STAGED -> APPLIED), sent to the Entry Service — so a step
takes every part due for it, whichever run staged it: what a failed run left behind is picked up by
the next run or a manual materialization, and nothing is done twice. A part whose step keeps failing
(its staged records unreadable, data a destination refuses as a whole) is QUARANTINED after a number of
failed attempts, with the reason, so the parts behind it proceed; replaying its file stages it anew.
Refused rows are kept with the line number and the reason, whatever step refused them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    inspect,
    select,
    text,
    update,
)

from mm_platform.core.migrations import migrated_metadata
from mm_platform.core.sql import db_now, dialect_insert, ensure_schema
from mm_platform.verified_fan.migrations import VERSIONS
from mm_platform.verified_fan.rules.scoring import SCRUBBED

STAGED, APPLIED, QUARANTINED = "STAGED", "APPLIED", "QUARANTINED"
# the steps of a part, in order; a step is due once the one before is done
PUBLISHED, APPLIED_AT, ENTRY_SCORED = "published_at", "applied_at", "entry_scored_at"

metadata = migrated_metadata("verified_fan", VERSIONS)

staged_part = Table(
    "vf_staged_part",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("file_ref", String(1100), nullable=False),  # key@etag@last-modified, as in the inbox
    Column("object_key", String(1024), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("campaign_id", String(100), nullable=False),
    Column("upload_order", String(1200), nullable=False),  # last-modified|key|etag: sorts by upload
    Column("inbox_id", BigInteger),
    Column("staged_uri", String(1200), nullable=False),
    Column("rows_in", Integer, nullable=False),
    Column("valid", Integer, nullable=False),
    Column("invalid", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("rank0", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("staged_at", DateTime, nullable=False),
    Column(PUBLISHED, DateTime),
    Column(APPLIED_AT, DateTime),
    Column("applied_by", String(64)),
    Column(ENTRY_SCORED, DateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),  # failed step attempts in a row
    Column("last_error", Text),
    UniqueConstraint("file_ref", "campaign_id", name="uq_vf_staged_part_file_campaign"),
    Index("ix_vf_staged_part_campaign", "campaign_id", "kind", "status"),
    Index("ix_vf_staged_part_status", "status", "id"),
)

rejected_row = Table(
    "vf_rejected_row",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("file_ref", String(1100), nullable=False),
    Column("object_key", String(1024), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("line", Integer, nullable=False),  # data line of the file, 1 = the first row after the header
    Column("campaign_id", String(200), nullable=False),
    Column("member_key", String(300), nullable=False),
    Column("stage", String(32), nullable=False),  # validation | dynamodb | campaign-service
    Column("reason", Text, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("file_ref", "line", name="uq_vf_rejected_row_file_line"),
    Index("ix_vf_rejected_row_campaign", "campaign_id", "id"),
)


@dataclass(frozen=True)
class Part:
    id: int
    file_ref: str
    object_key: str
    kind: str
    campaign_id: str
    upload_order: str
    inbox_id: int | None
    staged_uri: str
    rows_in: int
    valid: int
    invalid: int
    duplicates: int
    records: int
    rank0: int
    status: str
    staged_at: dt.datetime
    published_at: dt.datetime | None
    applied_at: dt.datetime | None
    applied_by: str | None
    entry_scored_at: dt.datetime | None
    attempts: int = 0
    last_error: str | None = None


def _part(row: Any) -> Part:
    return Part(**dict(row._mapping))


def _add_missing_columns(engine: Engine) -> None:
    """Columns added to an embedded database made before they existed (create_all adds tables, not
    columns). Never in production: there `mm-platform db upgrade` owns the schema (core/migrations)."""
    present = {c["name"] for c in inspect(engine).get_columns(staged_part.name)}
    with engine.begin() as conn:
        if "attempts" not in present:
            conn.execute(
                text(f"ALTER TABLE {staged_part.name} ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
            )
        if "last_error" not in present:
            conn.execute(text(f"ALTER TABLE {staged_part.name} ADD COLUMN last_error TEXT"))


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = ensure_schema(metadata, engine, legacy=_add_missing_columns)

    def replace_parts(self, file_ref: str, parts: Sequence[dict[str, Any]]) -> list[Part]:
        """The parts of a file, staged anew: a file processed again (a replay) gets fresh STAGED parts."""
        now = db_now()
        with self.engine.begin() as conn:
            conn.execute(delete(staged_part).where(staged_part.c.file_ref == file_ref))
            if parts:
                conn.execute(
                    staged_part.insert(),
                    [{**p, "file_ref": file_ref, "status": STAGED, "staged_at": now} for p in parts],
                )
            rows = conn.execute(
                select(staged_part).where(staged_part.c.file_ref == file_ref).order_by(staged_part.c.id)
            )
            return [_part(r) for r in rows]

    def record_rejects(self, rows: Sequence[dict[str, Any]], chunk: int = 5000) -> None:
        """Keep refused rows; a row already recorded for the file and line is kept as it was."""
        if not rows:
            return
        now = db_now()
        statement = dialect_insert(self.engine, rejected_row).on_conflict_do_nothing(
            index_elements=["file_ref", "line"]
        )
        with self.engine.begin() as conn:
            for start in range(0, len(rows), chunk):
                conn.execute(
                    statement,
                    [
                        {
                            **r,
                            "campaign_id": str(r["campaign_id"])[:200],
                            "member_key": str(r["member_key"])[:300],
                            "recorded_at": now,
                        }
                        for r in rows[start : start + chunk]
                    ],
                )

    def pending(self, limit: int = 1000) -> list[Part]:
        """STAGED parts, newest first (what the parts sensor turns into campaign runs)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(staged_part)
                .where(staged_part.c.status == STAGED)
                .order_by(staged_part.c.id.desc())
                .limit(limit)
            )
            return [_part(r) for r in rows]

    def unfinished(self, limit: int = 1000) -> list[Part]:
        """Parts with a step still to do, newest first: STAGED ones, and applied registrant parts
        whose entry scoring failed (what a retry of their campaign run would finish)."""
        entry_left = (
            (staged_part.c.status == APPLIED)
            & (staged_part.c.kind == SCRUBBED)
            & staged_part.c[ENTRY_SCORED].is_(None)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(staged_part)
                .where((staged_part.c.status == STAGED) | entry_left)
                .order_by(staged_part.c.id.desc())
                .limit(limit)
            )
            return [_part(r) for r in rows]

    def due(self, campaign_id: str, kind: str, step: str, after: str | None = None) -> list[Part]:
        """The campaign's parts of `kind` that still need `step` (and have had `after`), in upload order."""
        query = select(staged_part).where(
            staged_part.c.campaign_id == campaign_id,
            staged_part.c.kind == kind,
            staged_part.c[step].is_(None),
            staged_part.c.status != QUARANTINED,
        )
        if after is not None:
            query = query.where(staged_part.c[after].is_not(None))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(staged_part.c.upload_order, staged_part.c.id))
            return [_part(r) for r in rows]

    def mark(self, ids: Iterable[int], step: str, run_id: str) -> None:
        """Record `step` done for the parts; applying them to the demand table makes them APPLIED."""
        ids = list(ids)
        if not ids:
            return
        values: dict[str, Any] = {step: db_now(), "attempts": 0, "last_error": None}
        if step == APPLIED_AT:
            values.update(status=APPLIED, applied_by=run_id)
        with self.engine.begin() as conn:
            conn.execute(update(staged_part).where(staged_part.c.id.in_(ids)).values(**values))

    def failed(self, ids: Iterable[int], error: str, max_attempts: int) -> list[Part]:
        """Count a failed attempt of a step for the parts; those that reached `max_attempts` are
        QUARANTINED with the reason (no step takes them any more). Returns the quarantined."""
        ids, error = list(ids), error[:2000]
        if not ids:
            return []
        reason = f"quarantined after {max_attempts} failed attempts: {error}"
        with self.engine.begin() as conn:
            conn.execute(
                update(staged_part)
                .where(staged_part.c.id.in_(ids))
                .values(attempts=staged_part.c.attempts + 1, last_error=error)
            )
            at_limit = staged_part.c.id.in_(ids) & (staged_part.c.attempts >= max_attempts)
            conn.execute(update(staged_part).where(at_limit).values(status=QUARANTINED, last_error=reason))
            rows = conn.execute(select(staged_part).where(at_limit).order_by(staged_part.c.id))
            return [_part(r) for r in rows]

    def waiting(self, campaign_id: str) -> list[Part]:
        """Parts of the campaign not applied yet: their counts are still to come."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(staged_part).where(
                    staged_part.c.campaign_id == campaign_id, staged_part.c.status == STAGED
                )
            )
            return [_part(r) for r in rows]

    def parts(
        self, *, campaign_id: str | None = None, object_key: str | None = None, limit: int = 50
    ) -> list[Part]:
        query = select(staged_part).order_by(staged_part.c.id.desc()).limit(limit)
        if campaign_id is not None:
            query = query.where(staged_part.c.campaign_id == campaign_id)
        if object_key is not None:
            query = query.where(staged_part.c.object_key == object_key)
        with self.engine.connect() as conn:
            return [_part(r) for r in conn.execute(query)]

    def rejects(
        self,
        *,
        campaign_id: str | None = None,
        file_ref: str | None = None,
        object_key: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Refused rows in id order after `after_id` (keyset paging)."""
        query = (
            select(rejected_row).where(rejected_row.c.id > after_id).order_by(rejected_row.c.id).limit(limit)
        )
        if campaign_id is not None:
            query = query.where(rejected_row.c.campaign_id == campaign_id)
        if file_ref is not None:
            query = query.where(rejected_row.c.file_ref == file_ref)
        if object_key is not None:
            query = query.where(rejected_row.c.object_key == object_key)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
