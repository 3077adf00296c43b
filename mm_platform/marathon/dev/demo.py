"""`mm-platform demo`: a new round with a few hundred coders on the embedded stack, its review-END
event, and a wait for the whole chain — ratings, DW, member stats and search documents."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter
from sqlalchemy import Engine, func, select

from mm_platform.core.inbox import EventInbox, InboxEvent, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.marathon.dev.sample_data import insert_round, review_end_event
from mm_platform.marathon.dev.trace import CHAIN
from mm_platform.marathon.rules.member_stats import published_marathon
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import schema as oltp

DEMO_ROUND_BASE = 990500


@dataclass
class DemoRound:
    round_id: int
    project_id: int
    coders: int


def seed_demo_round(oltp_engine: Engine, coders: int) -> DemoRound:
    """The next free demo round: coders shared with the sample round, so many are experienced."""
    with oltp_engine.begin() as conn:
        latest = conn.execute(
            select(func.max(oltp.round_.c.round_id)).where(oltp.round_.c.round_id >= DEMO_ROUND_BASE)
        ).scalar_one()
        round_id = (latest or DEMO_ROUND_BASE) + 1
        project_id = 40_000_000 + round_id
        insert_round(
            conn,
            round_id=round_id,
            contest_id=round_id,
            project_id=project_id,
            start=dt.datetime(2024, 4, 1) + dt.timedelta(days=7 * (round_id - DEMO_ROUND_BASE)),
            coders=coders,
            seed=round_id,
        )
    return DemoRound(round_id, project_id, coders)


def publish_review_end(kafka: KafkaResource, topic: str, demo: DemoRound) -> None:
    event = review_end_event(project_id=demo.project_id, phase_id=demo.round_id)
    event["payload"]["date"] = event["timestamp"] = dt.datetime.now(dt.timezone.utc).isoformat()
    kafka.produce(topic, [json.dumps(event)], key=str(demo.project_id))


@dataclass
class ChainWait:
    ok: bool
    why: str = ""
    event: InboxEvent | None = None
    seen: dict[str, float] = field(default_factory=dict)  # status -> when this wait first saw it (epoch)


def wait_for_chain(inbox: EventInbox, topic: str, demo: DemoRound, timeout: float) -> ChainWait:
    """Wait until the event is HANDLED, i.e. the round's run materialized the whole chain."""
    deadline, seen = time.monotonic() + timeout, {}
    entity = f"project-{demo.project_id}"
    while time.monotonic() < deadline:
        events = inbox.select(topic=topic, entity_key=entity, limit=10)
        event = events[-1] if events else None
        if event is not None:
            seen.setdefault(event.status.value, time.time())
        if event is not None and event.status in (Status.FAILED, Status.INVALID, Status.IGNORED):
            return ChainWait(False, f"event {event.status.value}: {event.reason}", event, seen)
        if event is not None and event.status is Status.HANDLED:
            return ChainWait(True, "", event, seen)
        time.sleep(0.25)
    last = ", ".join(seen) or "not consumed"
    why = f"timed out after {timeout:.0f}s (event: {last}); is `make dev` (the Dagster daemon) running?"
    return ChainWait(False, why, None, seen)


def timeline(instance: DagsterInstance, wait: ChainWait, published_at: float, round_id: int) -> list[str]:
    """Where the seconds went, from publishing the event: consumed, run created and started, each
    asset of the chain materialized, the event HANDLED."""
    marks: list[tuple[float, str]] = []
    if wait.event is not None:
        marks.append((_epoch(wait.event.received_at), f"event consumed into the inbox (#{wait.event.id})"))
    runs = instance.get_run_records(
        RunsFilter(job_name="marathon_round_job", tags={"dagster/partition": str(round_id)}), limit=1
    )
    if runs:
        run = runs[0]
        marks.append((run.create_timestamp.timestamp(), f"run {run.dagster_run.run_id[:8]} created"))
        if run.start_time:
            marks.append((run.start_time, "run started"))
    for name in CHAIN:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(["marathon", name]), asset_partitions=[str(round_id)]),
            limit=1,
        ).records
        if records:
            marks.append((records[0].timestamp, name))
    if "HANDLED" in wait.seen:
        marks.append((wait.seen["HANDLED"], "event HANDLED (seen by this command)"))
    return [f"  {at - published_at:>6.1f}s  {what}" for at, what in sorted(marks)]


def _epoch(value: dt.datetime) -> float:
    # SQLite hands back naive datetimes; the inbox stores UTC
    return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp()


def summary(oltp_engine: Engine, dw_engine: Engine, demo: DemoRound, stats: dict[int, dict]) -> list[str]:
    lcr, coder = oltp.long_comp_result, oltp.coder
    with oltp_engine.connect() as conn:
        rows = conn.execute(
            select(
                lcr.c.coder_id,
                coder.c.handle,
                lcr.c.placed,
                lcr.c.attended,
                lcr.c.old_rating,
                lcr.c.new_rating,
                lcr.c.rated_ind,
            )
            .join(coder, coder.c.coder_id == lcr.c.coder_id)
            .where(lcr.c.round_id == demo.round_id)
            .order_by(lcr.c.placed)
        ).all()
    with dw_engine.connect() as conn:
        ranks = dict(
            conn.execute(
                select(dw.coder_rank.c.coder_id, dw.coder_rank.c.rank).where(
                    dw.coder_rank.c.coder_rank_type_id == 1
                )
            ).all()
        )
        documents = conn.execute(
            select(func.count())
            .select_from(dw.member_search_document)
            .where(dw.member_search_document.c.coder_id.in_([r.coder_id for r in rows]))
        ).scalar_one()
    rated = [r for r in rows if int(r.rated_ind or 0) == 1]
    lines = [
        f"round {demo.round_id} (legacy project {demo.project_id}): {len(rows)} results, "
        f"{sum(1 for r in rows if r.attended == 'Y')} attended, {len(rated)} rated",
        f"member stats items (DynamoDB) for the round's members: {len(stats)}; search documents: {documents}",
        "",
        f"{'place':>5}  {'handle':<14} {'old':>5} -> {'new':>5}  {'rank':>5}  {'competitions':>12}",
    ]
    for r in [r for r in rows if r.placed is not None][:10]:
        if int(r.rated_ind or 0) != 1:
            why = "not attended: no final submission" if r.attended != "Y" else "attended, left unrated"
            lines.append(f"{r.placed:>5}  {r.handle:<14} {'':>5}    {'':>5}  {'':>5}  ({why})")
            continue
        old = "new" if r.old_rating is None else int(r.old_rating)
        published = published_marathon(stats[r.coder_id]) if r.coder_id in stats else {}
        competitions = published.get("rank", {}).get("competitions", "-")
        lines.append(
            f"{r.placed:>5}  {r.handle:<14} {old:>5} -> {int(r.new_rating):>5}  "
            f"{ranks.get(r.coder_id, '-'):>5}  {competitions:>12}"
        )
    return lines
