"""Baseline: the tables as the previous release (840cd82) made them with create_all.

Revision ID: scoring_0001
Revises:
Create Date: 2026-12-01 14:23:38.805309
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mm_platform.core.migrations import existing_tables

revision: str = "scoring_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("scoring",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the previous release made these tables on first use (create_all): keep those it made
    present = existing_tables()
    if "scoring_leaderboard" not in present:
        op.create_table(
            "scoring_leaderboard",
            sa.Column("challenge_id", sa.String(length=200), nullable=False),
            sa.Column("phase", sa.String(length=32), nullable=False),
            sa.Column("member_id", sa.String(length=200), nullable=False),
            sa.Column("rank", sa.Integer(), nullable=False),
            sa.Column("submission_id", sa.String(length=200), nullable=False),
            sa.Column("created", sa.DateTime(timezone=True), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("raw_score", sa.Float(), nullable=True),
            sa.Column("relative_score", sa.Float(), nullable=True),
            sa.PrimaryKeyConstraint("challenge_id", "phase", "member_id"),
        )
    if "scoring_result" not in present:
        op.create_table(
            "scoring_result",
            sa.Column("submission_id", sa.String(length=200), nullable=False),
            sa.Column("phase", sa.String(length=32), nullable=False),
            sa.Column("challenge_id", sa.String(length=200), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("score", sa.Float(), nullable=True),
            sa.Column("test_scores", sa.JSON(), nullable=True),
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("scorer_ref", sa.Text(), nullable=True),
            sa.Column("scorer_seconds", sa.Float(), nullable=True),
            sa.Column("run_id", sa.String(length=64), nullable=True),
            sa.Column("review_id", sa.String(length=200), nullable=True),
            sa.Column("summation_id", sa.String(length=200), nullable=True),
            sa.Column("failed_posted", sa.Boolean(), server_default="0", nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("submission_id", "phase"),
        )
        op.create_index(
            "ix_scoring_result_challenge", "scoring_result", ["challenge_id", "status"], unique=False
        )
    if "scoring_submission" not in present:
        op.create_table(
            "scoring_submission",
            sa.Column("submission_id", sa.String(length=200), nullable=False),
            sa.Column("challenge_id", sa.String(length=200), nullable=False),
            sa.Column("member_id", sa.String(length=200), nullable=False),
            sa.Column("url", sa.Text(), nullable=False),
            sa.Column("created", sa.DateTime(timezone=True), nullable=False),
            sa.Column("inbox_id", sa.Integer(), nullable=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("submission_id"),
        )
        op.create_index(
            "ix_scoring_submission_challenge", "scoring_submission", ["challenge_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("scoring_submission")
    op.drop_table("scoring_result")
    op.drop_table("scoring_leaderboard")
