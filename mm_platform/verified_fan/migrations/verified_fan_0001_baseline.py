"""Baseline: the tables as the previous release (840cd82) made them with create_all.

Revision ID: verified_fan_0001
Revises:
Create Date: 2026-12-01 14:23:42.540028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mm_platform.core.migrations import existing_tables

revision: str = "verified_fan_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("verified_fan",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the previous release made these tables on first use (create_all): keep those it made
    present = existing_tables()
    if "vf_rejected_row" not in present:
        op.create_table(
            "vf_rejected_row",
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
            ),
            sa.Column("file_ref", sa.String(length=1100), nullable=False),
            sa.Column("object_key", sa.String(length=1024), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("line", sa.Integer(), nullable=False),
            sa.Column("campaign_id", sa.String(length=200), nullable=False),
            sa.Column("member_key", sa.String(length=300), nullable=False),
            sa.Column("stage", sa.String(length=32), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.Column("recorded_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("file_ref", "line", name="uq_vf_rejected_row_file_line"),
        )
        op.create_index("ix_vf_rejected_row_campaign", "vf_rejected_row", ["campaign_id", "id"], unique=False)
    if "vf_staged_part" not in present:
        op.create_table(
            "vf_staged_part",
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
            ),
            sa.Column("file_ref", sa.String(length=1100), nullable=False),
            sa.Column("object_key", sa.String(length=1024), nullable=False),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("campaign_id", sa.String(length=100), nullable=False),
            sa.Column("upload_order", sa.String(length=1200), nullable=False),
            sa.Column("inbox_id", sa.BigInteger(), nullable=True),
            sa.Column("staged_uri", sa.String(length=1200), nullable=False),
            sa.Column("rows_in", sa.Integer(), nullable=False),
            sa.Column("valid", sa.Integer(), nullable=False),
            sa.Column("invalid", sa.Integer(), nullable=False),
            sa.Column("duplicates", sa.Integer(), nullable=False),
            sa.Column("records", sa.Integer(), nullable=False),
            sa.Column("rank0", sa.Integer(), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("staged_at", sa.DateTime(), nullable=False),
            sa.Column("published_at", sa.DateTime(), nullable=True),
            sa.Column("applied_at", sa.DateTime(), nullable=True),
            sa.Column("applied_by", sa.String(length=64), nullable=True),
            sa.Column("entry_scored_at", sa.DateTime(), nullable=True),
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
            sa.Column("last_error", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("file_ref", "campaign_id", name="uq_vf_staged_part_file_campaign"),
        )
        op.create_index(
            "ix_vf_staged_part_campaign", "vf_staged_part", ["campaign_id", "kind", "status"], unique=False
        )
        op.create_index("ix_vf_staged_part_status", "vf_staged_part", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("vf_staged_part")
    op.drop_table("vf_rejected_row")
