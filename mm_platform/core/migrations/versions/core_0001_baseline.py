"""Baseline: the tables as the previous release (840cd82) made them with create_all.

Revision ID: core_0001
Revises:
Create Date: 2026-12-01 14:23:25.583793
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mm_platform.core.migrations import existing_tables

revision: str = "core_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the previous release made these tables on first use (create_all): keep those it made
    present = existing_tables()
    if "event_inbox" not in present:
        op.create_table(
            "event_inbox",
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
            ),
            sa.Column("topic", sa.String(length=249), nullable=False),
            sa.Column("kafka_partition", sa.Integer(), nullable=True),
            sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
            sa.Column("source_ref", sa.Text(), nullable=True),
            sa.Column("message_key", sa.Text(), nullable=True),
            sa.Column("headers", sa.JSON(), nullable=True),
            sa.Column("raw_value", sa.LargeBinary(), nullable=True),
            sa.Column("payload", sa.JSON(), nullable=True),
            sa.Column("event_type", sa.String(length=100), nullable=True),
            sa.Column("entity_key", sa.Text(), nullable=True),
            sa.Column("dedup_key", sa.Text(), nullable=True),
            sa.Column("partition_key", sa.String(length=200), nullable=True),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
            sa.Column("run_id", sa.String(length=64), nullable=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_attempted", sa.DateTime(timezone=True), nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint(
                "topic", "kafka_partition", "kafka_offset", name="uq_event_inbox_coordinates"
            ),
            sa.UniqueConstraint("topic", "source_ref", name="uq_event_inbox_source_ref"),
        )
        op.create_index("ix_event_inbox_dedup", "event_inbox", ["topic", "dedup_key"], unique=False)
        op.create_index("ix_event_inbox_entity", "event_inbox", ["topic", "entity_key", "id"], unique=False)
        op.create_index("ix_event_inbox_status_id", "event_inbox", ["status", "id"], unique=False)
        op.create_index(
            "ix_event_inbox_topic_status_dedup", "event_inbox", ["topic", "status", "dedup_key"], unique=False
        )
    if "slack_outbox" not in present:
        op.create_table(
            "slack_outbox",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("channel", sa.String(length=200), nullable=False),
            sa.Column("text", sa.String(length=4000), nullable=False),
            sa.Column("attachments", sa.JSON(), nullable=True),
            sa.Column("recorded_at", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )


def downgrade() -> None:
    op.drop_table("slack_outbox")
    op.drop_table("event_inbox")
