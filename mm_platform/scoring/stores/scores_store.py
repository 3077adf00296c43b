"""Where scoring keeps its state (the platform database): submissions, one row per submission and phase
with its outcome and what the Submission API has received, and the leaderboard.

A (submission, phase) row is PENDING until it is SCORED or FAILED; `attempts` counts scorer failures,
so a restarted run continues where the last one stopped. `review_id` / `summation_id` / `failed_posted`
record what the API acknowledged: a retried run posts only what is not recorded (and first asks the API,
in case a crash fell between its answer and our record).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    or_,
    select,
    update,
)

from mm_platform.core.migrations import migrated_metadata
from mm_platform.core.sql import dialect_insert, ensure_schema
from mm_platform.scoring.migrations import VERSIONS
from mm_platform.scoring.rules.events import SubmissionEvent
from mm_platform.scoring.rules.leaderboard import (
    FAILED,
    SCORED,
    LeaderboardRow,
    ScoredSubmission,
    counted_tests,
)
from mm_platform.scoring.rules.scores import ScorerResult, bounded_reason

PENDING = "PENDING"
ID = 200  # ids are UUIDs or numbers; fields.identifier caps them well below this

metadata = migrated_metadata("scoring", VERSIONS)

scoring_submission = Table(
    "scoring_submission",
    metadata,
    Column("submission_id", String(ID), primary_key=True),
    Column("challenge_id", String(ID), nullable=False),
    Column("member_id", String(ID), nullable=False),
    Column("url", Text, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("inbox_id", Integer),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_scoring_submission_challenge", "challenge_id"),
)

scoring_result = Table(
    "scoring_result",
    metadata,
    Column("submission_id", String(ID), primary_key=True),
    Column("phase", String(32), primary_key=True),
    Column("challenge_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("score", Float),
    Column("test_scores", JSON),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("reason", Text),
    Column("scorer_ref", Text),
    Column("scorer_seconds", Float),
    Column("run_id", String(64)),
    Column("review_id", String(ID)),
    Column("summation_id", String(ID)),
    Column("failed_posted", Boolean, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_scoring_result_challenge", "challenge_id", "status"),
)

scoring_leaderboard = Table(
    "scoring_leaderboard",
    metadata,
    Column("challenge_id", String(ID), primary_key=True),
    Column("phase", String(32), primary_key=True),
    Column("member_id", String(ID), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("submission_id", String(ID), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("raw_score", Float),
    Column("relative_score", Float),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Submission:
    submission_id: str
    challenge_id: str
    member_id: str
    url: str
    created: dt.datetime
    inbox_id: int | None


@dataclass(frozen=True)
class PhaseWork:
    """A (submission, phase) that still needs a scorer run or an API call."""

    submission: Submission
    phase: str
    status: str  # PENDING: to score; SCORED / FAILED: scored, the API has not acknowledged everything
    attempts: int
    score: float | None
    test_scores: list[dict[str, Any]] | None
    reason: str | None
    review_id: str | None
    summation_id: str | None
    failed_posted: bool


class ScoringStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = ensure_schema(metadata, engine)

    # -- submissions ---------------------------------------------------------------------------
    def add_submissions(
        self, events: Sequence[tuple[SubmissionEvent, int | None]], phases: Sequence[str]
    ) -> int:
        """Record submissions (with their inbox ids) and a PENDING row per phase; already known ones
        keep their rows. Returns how many submissions were new."""
        if not events:
            return 0
        now = _now()
        rows = [
            {
                "submission_id": e.submission_id,
                "challenge_id": e.challenge_id,
                "member_id": e.member_id,
                "url": e.url,
                "created": e.created,
                "inbox_id": inbox_id,
                "received_at": now,
            }
            for e, inbox_id in events
        ]
        results = [
            {
                "submission_id": e.submission_id,
                "phase": phase,
                "challenge_id": e.challenge_id,
                "status": PENDING,
                "updated_at": now,
            }
            for e, _ in events
            for phase in phases
        ]
        with self.engine.begin() as conn:
            known = set(
                conn.scalars(
                    select(scoring_submission.c.submission_id).where(
                        scoring_submission.c.submission_id.in_([r["submission_id"] for r in rows])
                    )
                )
            )
            insert = dialect_insert(conn, scoring_submission).on_conflict_do_nothing(
                index_elements=["submission_id"]
            )
            conn.execute(insert, rows)
            conn.execute(
                dialect_insert(conn, scoring_result).on_conflict_do_nothing(
                    index_elements=["submission_id", "phase"]
                ),
                results,
            )
        return len({r["submission_id"] for r in rows} - known)

    def add_missing_phases(self, challenge_id: str, phases: Sequence[str]) -> int:
        """A PENDING row for every (submission, phase) of the challenge that has none: a phase added
        to the config later is scored for the submissions received before. Returns rows added."""
        with self.engine.begin() as conn:
            have = set(
                conn.execute(
                    select(scoring_result.c.submission_id, scoring_result.c.phase).where(
                        scoring_result.c.challenge_id == challenge_id
                    )
                ).tuples()
            )
            submissions = conn.scalars(
                select(scoring_submission.c.submission_id).where(
                    scoring_submission.c.challenge_id == challenge_id
                )
            ).all()
            now = _now()
            missing = [
                {
                    "submission_id": sid,
                    "phase": phase,
                    "challenge_id": challenge_id,
                    "status": PENDING,
                    "updated_at": now,
                }
                for sid in submissions
                for phase in phases
                if (sid, phase) not in have
            ]
            if missing:
                conn.execute(
                    dialect_insert(conn, scoring_result).on_conflict_do_nothing(
                        index_elements=["submission_id", "phase"]
                    ),
                    missing,
                )
        return len(missing)

    def rescore_failed(self, submission_ids: Iterable[str], run_id: str) -> int:
        """Put FAILED phases of these submissions back to PENDING (a replayed dead letter), unless this
        very run failed them: a step retried within the run must not undo its own dead letter."""
        ids = list(submission_ids)
        if not ids:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(
                update(scoring_result)
                .where(
                    scoring_result.c.submission_id.in_(ids),
                    scoring_result.c.status == FAILED,
                    or_(scoring_result.c.run_id.is_(None), scoring_result.c.run_id != run_id),
                )
                .values(
                    status=PENDING,
                    attempts=0,
                    reason=None,
                    failed_posted=False,
                    run_id=run_id,
                    updated_at=_now(),
                )
            ).rowcount

    # -- work ----------------------------------------------------------------------------------
    def open_work(self, challenge_id: str, phases: Sequence[str]) -> list[PhaseWork]:
        """Phases to score, and scored or failed phases the API has not acknowledged yet, oldest first;
        only phases the challenge still configures (a phase removed from the config is left alone)."""
        r, s = scoring_result.c, scoring_submission.c
        unacknowledged = or_(
            r.status == PENDING,
            and_(r.status == SCORED, or_(r.review_id.is_(None), r.summation_id.is_(None))),
            and_(r.status == FAILED, r.failed_posted.is_(False)),
        )
        query = (
            select(scoring_result, scoring_submission)
            .join(scoring_submission, s.submission_id == r.submission_id)
            .where(r.challenge_id == challenge_id, r.phase.in_(list(phases)), unacknowledged)
            .order_by(s.created, s.submission_id, r.phase)
        )
        with self.engine.connect() as conn:
            return [_work(row) for row in conn.execute(query)]

    def record_scored(
        self, submission_id: str, phase: str, result: ScorerResult, ref: str, seconds: float, run_id: str
    ) -> None:
        self.record_posted(
            submission_id,
            phase,
            status=SCORED,
            score=result.score,
            test_scores=[t.as_reported() for t in result.test_scores],
            reason=None,
            scorer_ref=ref,
            scorer_seconds=seconds,
            run_id=run_id,
        )

    def record_failed_attempt(
        self, submission_id: str, phase: str, reason: str, ref: str, run_id: str, final: bool
    ) -> int:
        """Count a failed scorer run; `final` makes the phase FAILED (the dead letter). Returns attempts."""
        with self.engine.begin() as conn:
            conn.execute(
                update(scoring_result)
                .where(scoring_result.c.submission_id == submission_id, scoring_result.c.phase == phase)
                .values(
                    attempts=scoring_result.c.attempts + 1,
                    status=FAILED if final else PENDING,
                    reason=bounded_reason(reason),
                    scorer_ref=ref,
                    run_id=run_id,
                    updated_at=_now(),
                )
            )
            return conn.scalar(
                select(scoring_result.c.attempts).where(
                    scoring_result.c.submission_id == submission_id, scoring_result.c.phase == phase
                )
            )

    def record_posted(self, submission_id: str, phase: str, **values: Any) -> None:
        """What the API acknowledged: review_id, summation_id or failed_posted=True (also the scored
        outcome's columns, for record_scored)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(scoring_result)
                .where(scoring_result.c.submission_id == submission_id, scoring_result.c.phase == phase)
                .values(updated_at=_now(), **values)
            )

    # -- reading -------------------------------------------------------------------------------
    def outcomes(self, challenge_id: str, phases: Sequence[str] | None = None) -> list[ScoredSubmission]:
        """Every finished phase of the challenge (of `phases`, if given) as the leaderboard reads it."""
        r, s = scoring_result.c, scoring_submission.c
        query = (
            select(
                r.phase, s.member_id, s.submission_id, s.created, r.status, r.score, r.test_scores, r.reason
            )
            .join(scoring_submission, s.submission_id == r.submission_id)
            .where(r.challenge_id == challenge_id, r.status.in_([SCORED, FAILED]))
        )
        if phases is not None:
            query = query.where(r.phase.in_(list(phases)))
        with self.engine.connect() as conn:
            return [
                ScoredSubmission(
                    phase=row.phase,
                    member_id=row.member_id,
                    submission_id=row.submission_id,
                    created=_utc(row.created),
                    status=row.status,
                    score=row.score,
                    test_scores=counted_tests(row.test_scores or []) if row.status == SCORED else {},
                    reason=row.reason,
                )
                for row in conn.execute(query)
            ]

    def expected_phases(self, challenge_id: str, phases: Sequence[str]) -> list[tuple[str, str]]:
        """(submission, phase) for every submission received for the challenge and every configured
        phase: what must have a score or a FAILED reason, whatever rows the results table holds."""
        with self.engine.connect() as conn:
            submissions = conn.scalars(
                select(scoring_submission.c.submission_id).where(
                    scoring_submission.c.challenge_id == challenge_id
                )
            ).all()
        return [(sid, phase) for sid in submissions for phase in phases]

    def fully_scored(self, submission_ids: Iterable[str]) -> dict[str, int | None]:
        """Submission id -> inbox id of those among `submission_ids` whose every phase is SCORED
        with its review and summation acknowledged."""
        ids = list(submission_ids)
        if not ids:
            return {}
        r, s = scoring_result.c, scoring_submission.c
        query = (
            select(s.submission_id, s.inbox_id, r.status, r.review_id, r.summation_id)
            .join(scoring_result, r.submission_id == s.submission_id)
            .where(s.submission_id.in_(ids))
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        unfinished = {
            row.submission_id
            for row in rows
            if row.status != SCORED or row.review_id is None or row.summation_id is None
        }
        return {row.submission_id: row.inbox_id for row in rows if row.submission_id not in unfinished}

    def status_counts(self, challenge_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, _, status in self.phase_statuses(challenge_id):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def phase_statuses(self, challenge_id: str) -> list[tuple[str, str, str]]:
        with self.engine.connect() as conn:
            return [
                tuple(row)
                for row in conn.execute(
                    select(scoring_result.c.submission_id, scoring_result.c.phase, scoring_result.c.status)
                    .where(scoring_result.c.challenge_id == challenge_id)
                    .order_by(scoring_result.c.submission_id, scoring_result.c.phase)
                )
            ]

    # -- leaderboard ---------------------------------------------------------------------------
    def replace_leaderboard(self, challenge_id: str, rows: Sequence[LeaderboardRow]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(scoring_leaderboard).where(scoring_leaderboard.c.challenge_id == challenge_id)
            )
            if rows:
                conn.execute(
                    scoring_leaderboard.insert(),
                    [
                        {
                            "challenge_id": challenge_id,
                            "phase": row.phase,
                            "member_id": row.member_id,
                            "rank": row.rank,
                            "submission_id": row.submission_id,
                            "created": row.created,
                            "status": row.status,
                            "raw_score": row.raw_score,
                            "relative_score": row.relative_score,
                        }
                        for row in rows
                    ],
                )

    def leaderboard(self, challenge_id: str) -> list[LeaderboardRow]:
        lb = scoring_leaderboard.c
        with self.engine.connect() as conn:
            return [
                LeaderboardRow(
                    row.phase,
                    row.rank,
                    row.member_id,
                    row.submission_id,
                    _utc(row.created),
                    row.status,
                    row.raw_score,
                    row.relative_score,
                )
                for row in conn.execute(
                    select(scoring_leaderboard)
                    .where(lb.challenge_id == challenge_id)
                    .order_by(lb.phase, lb.rank)
                )
            ]


def _work(row: Any) -> PhaseWork:
    return PhaseWork(
        submission=Submission(
            row.submission_id, row.challenge_id, row.member_id, row.url, _utc(row.created), row.inbox_id
        ),
        phase=row.phase,
        status=row.status,
        attempts=row.attempts,
        score=row.score,
        test_scores=row.test_scores,
        reason=row.reason,
        review_id=row.review_id,
        summation_id=row.summation_id,
        failed_posted=bool(row.failed_posted),
    )
