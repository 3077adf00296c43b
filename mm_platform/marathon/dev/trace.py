"""`mm-platform trace <coder_id>`: why is a member profile what it is (or stale)?

For one member: the rounds they took part in, each round's asset partitions along the chain with
their materialization times, the inbox events of the round's projects, the published stats item,
and the first step that is missing, stale (older than its upstream) or failed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import Engine, select

from mm_platform.core.inbox import EventInbox, InboxEvent
from mm_platform.marathon.rules.attendance import Submission
from mm_platform.marathon.rules.member_stats import published_marathon
from mm_platform.marathon.stores import oltp as oltp_queries
from mm_platform.marathon.stores import schema as oltp

CHAIN = [
    "long_comp_result_attendance",
    "round_ratings",
    "dw_coders",
    "dw_mm_ratings",
    "member_stats",
    "member_search_index",
]


@dataclass
class StepState:
    asset: str
    materialized_at: dt.datetime | None
    verdict: str  # ok | missing | stale | failed


@dataclass
class RoundTrace:
    round_id: int
    attended: str
    rated: bool
    old_rating: int | None
    new_rating: int | None
    steps: list[StepState] = field(default_factory=list)
    events: list[InboxEvent] = field(default_factory=list)
    failed_run: str | None = None
    no_result: str | None = None  # registered, but no long_comp_result row: why

    @property
    def problem(self) -> str | None:
        if self.no_result:
            return self.no_result
        if self.failed_run:
            return self.failed_run
        for step in self.steps:
            if step.verdict != "ok":
                return f"{step.asset} is {step.verdict}"
        return None


def _latest_materialization(instance: DagsterInstance, name: str, partition: str) -> dt.datetime | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(["marathon", name]), asset_partitions=[partition]), limit=1
    ).records
    return dt.datetime.fromtimestamp(records[0].timestamp, dt.timezone.utc) if records else None


def chain_states(instance: DagsterInstance, partition: str) -> list[StepState]:
    states, upstream = [], None
    for name in CHAIN:
        at = _latest_materialization(instance, name, partition)
        if at is None:
            verdict = "missing"
        elif upstream is not None and upstream > at:
            verdict = "stale"
        else:
            verdict = "ok"
        states.append(StepState(name, at, verdict))
        upstream = at if at is not None else upstream
    return states


def _last_run_failure(instance: DagsterInstance, partition: str) -> str | None:
    runs = instance.get_runs(
        RunsFilter(job_name="marathon_round_job", tags={"dagster/partition": partition}), limit=1
    )
    if not runs or runs[0].status != DagsterRunStatus.FAILURE:
        return None
    failed_steps = [
        e.step_key
        for e in instance.all_logs(runs[0].run_id)
        if e.dagster_event and e.dagster_event.is_step_failure
    ]
    return f"the latest run {runs[0].run_id[:8]} failed at {', '.join(failed_steps) or 'launch'}"


def why_no_result(submissions: list[Submission]) -> str:
    """Why a registered member has no long_comp_result row, so the round is not in their profile."""
    if not submissions:
        return "registered but never submitted: not in the round's results, nothing to rate"
    latest = max(submissions, key=lambda s: (s.created, s.submission_id))
    if latest.final_score is None:
        return (
            f"{len(submissions)} submission(s), the latest without a final score: no result row, not rated "
            "(the round's results are written once review ends)"
        )
    return (
        "a final submission but no long_comp_result row: attendance marks only members with one (spec "
        "9.4), so the round is not rated for this member; the round's result rows are missing them"
    )


def _when(epoch_ms: Any) -> str:
    if epoch_ms is None:
        return "-"
    return dt.datetime.fromtimestamp(int(epoch_ms) / 1000, dt.timezone.utc).isoformat(timespec="seconds")


def _fields(block: dict[str, Any], names: str) -> str:
    return "  ".join(f"{name} {block.get(name)}" for name in names.split())


def published_profile(stats: dict[str, Any] | None, history: dict[str, Any] | None) -> list[str]:
    """The fields a member sees on their profile, as the member API serves them from the two items."""
    if stats is None:
        return ["member profile: no MemberStats item (not published yet)"]
    science = json.loads(stats.get("DATA_SCIENCE") or "{}")  # the SRM block, if any, shows as kept
    mm = published_marathon(stats)
    rank = mm.get("rank") or {}
    best = stats.get("maxRating") or {}
    lines = [
        f"member profile (MemberStats {stats['userId']}, updated {_when(stats.get('updatedAt'))} "
        f"by {stats.get('updatedBy', '-')}):",
        f"  {_fields(stats, 'handle challenges wins')}  maxRating {best.get('rating', '-')} "
        f"({best.get('track', '-')}/{best.get('subTrack', '-')})",
        "  MARATHON_MATCH: " + _fields(mm, "challenges wins mostRecentEventName"),
        f"    mostRecentEventDate {_when(mm.get('mostRecentEventDate'))}  "
        f"mostRecentSubmission {_when(mm.get('mostRecentSubmission'))}",
        "    " + _fields(rank, "rating volatility competitions rank percentile countryRank schoolRank"),
        "    " + _fields(rank, "avgRank avgNumSubmissions bestRank topFiveFinishes topTenFinishes"),
        "    " + _fields(rank, "minimumRating maximumRating defaultLanguage"),
    ]
    others = [name for name in ("DEVELOP", "DESIGN", "COPILOT") if name in stats]
    others += ["SRM"] if "SRM" in science else []
    if others:
        lines.append(f"  other tracks kept as their writers left them: {', '.join(others)}")
    past = published_marathon(history or {}).get("history", [])
    lines.append(f"  rating history (MemberHistoryStats): {len(past)} rated round(s)")
    for entry in past[-5:]:
        lines.append(
            f"    {_when(entry.get('date'))[:10]}  {entry.get('challengeName')} "
            f"({entry.get('challengeId')}): " + _fields(entry, "rating placement percentile")
        )
    return lines


def trace_member(
    coder_id: int, oltp_engine: Engine, inbox: EventInbox, instance: DagsterInstance, topic: str
) -> tuple[dict[str, Any] | None, list[RoundTrace]]:
    with oltp_engine.connect() as conn:
        member = conn.execute(select(oltp.coder).where(oltp.coder.c.coder_id == coder_id)).one_or_none()
        rows = conn.execute(
            select(oltp.long_comp_result)
            .where(oltp.long_comp_result.c.coder_id == coder_id)
            .order_by(oltp.long_comp_result.c.round_id)
        ).all()
        registered = conn.execute(
            select(oltp.round_registration.c.round_id)
            .where(oltp.round_registration.c.coder_id == coder_id)
            .order_by(oltp.round_registration.c.round_id)
        ).scalars()
        without_result = [round_id for round_id in registered if round_id not in {r.round_id for r in rows}]
        projects = {
            round_id: oltp_queries.projects_of_round(conn, round_id)
            for round_id in [r.round_id for r in rows] + without_result
        }
        submissions = {
            round_id: [
                s
                for s in oltp_queries.submissions_of_projects(conn, projects[round_id])
                if s.member_id == coder_id
            ]
            for round_id in without_result
        }
    traces = []
    for r in rows:
        trace = RoundTrace(
            r.round_id,
            r.attended,
            int(r.rated_ind or 0) == 1,
            None if r.old_rating is None else int(r.old_rating),
            None if r.new_rating is None else int(r.new_rating),
        )
        trace.steps = chain_states(instance, str(r.round_id))
        trace.failed_run = _last_run_failure(instance, str(r.round_id))
        for project_id in projects[r.round_id]:
            trace.events += inbox.select(topic=topic, entity_key=f"project-{project_id}", limit=50)
        traces.append(trace)
    for round_id in without_result:
        trace = RoundTrace(round_id, "-", False, None, None, no_result=why_no_result(submissions[round_id]))
        for project_id in projects[round_id]:
            trace.events += inbox.select(topic=topic, entity_key=f"project-{project_id}", limit=50)
        traces.append(trace)
    return (None if member is None else dict(member._mapping)), sorted(traces, key=lambda t: t.round_id)
