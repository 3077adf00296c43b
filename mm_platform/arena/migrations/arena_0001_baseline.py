"""Baseline: the tables as the previous release (840cd82) made them with create_all.

Revision ID: arena_0001
Revises:
Create Date: 2026-12-01 14:23:35.545294
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mm_platform.core.migrations import existing_tables

revision: str = "arena_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("arena",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the previous release made these tables on first use (create_all): keep those it made
    present = existing_tables()
    if "arena_deltaker" not in present:
        op.create_table(
            "arena_deltaker",
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
            ),
            sa.Column("arena_id", sa.String(length=40), nullable=False),
            sa.Column("arena_source_table", sa.String(length=40), nullable=False),
            sa.Column("person_id", sa.BigInteger(), nullable=True),
            sa.Column("gjennomforing_id", sa.BigInteger(), nullable=False),
            sa.Column("dato_fra", sa.Date(), nullable=True),
            sa.Column("dato_til", sa.Date(), nullable=True),
            sa.Column("reg_dato", sa.DateTime(), nullable=True),
            sa.Column("mod_dato", sa.DateTime(), nullable=True),
            sa.Column("status", sa.String(length=40), nullable=False),
            sa.Column("dato_statusendring", sa.DateTime(), nullable=True),
            sa.Column("ekstern_id", sa.String(length=100), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("arena_id", "arena_source_table", name="uq_arena_deltaker_source"),
        )
        op.create_index(
            "ix_arena_deltaker_person", "arena_deltaker", ["person_id", "gjennomforing_id"], unique=False
        )
    if "arena_gjennomforing" not in present:
        op.create_table(
            "arena_gjennomforing",
            sa.Column("arena_id", sa.String(length=40), nullable=False),
            sa.Column("tiltak_kode", sa.Text(), nullable=False),
            sa.Column("is_valid", sa.Boolean(), nullable=False),
            sa.Column("mr_id", sa.String(length=36), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("arena_id"),
        )
    if "arena_hist_id_translation" not in present:
        op.create_table(
            "arena_hist_id_translation",
            sa.Column("amt_id", sa.String(length=36), nullable=False),
            sa.Column("arena_hist_id", sa.String(length=40), nullable=False),
            sa.Column("arena_id", sa.String(length=40), nullable=True),
            sa.PrimaryKeyConstraint("amt_id"),
            sa.UniqueConstraint("arena_hist_id"),
        )
    if "arena_id_translation" not in present:
        op.create_table(
            "arena_id_translation",
            sa.Column("amt_id", sa.String(length=36), nullable=False),
            sa.Column("arena_table_name", sa.String(length=40), nullable=False),
            sa.Column("arena_id", sa.String(length=40), nullable=False),
            sa.PrimaryKeyConstraint("amt_id"),
            sa.UniqueConstraint("arena_table_name", "arena_id", name="uq_arena_id_translation"),
        )
    if "arena_outbox" not in present:
        op.create_table(
            "arena_outbox",
            sa.Column(
                "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
            ),
            sa.Column("ledger_id", sa.BigInteger(), nullable=False),
            sa.Column("topic", sa.String(length=249), nullable=False),
            sa.Column("message_key", sa.String(length=100), nullable=False),
            sa.Column("value", sa.LargeBinary(), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("produced_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("produced_partition", sa.Integer(), nullable=True),
            sa.Column("produced_offset", sa.BigInteger(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_arena_outbox_ledger", "arena_outbox", ["ledger_id"], unique=False)
        op.create_index("ix_arena_outbox_pending", "arena_outbox", ["produced_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("arena_outbox")
    op.drop_table("arena_id_translation")
    op.drop_table("arena_hist_id_translation")
    op.drop_table("arena_gjennomforing")
    op.drop_table("arena_deltaker")
