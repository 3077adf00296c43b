"""`mm-platform demo --domain verified-fan`: a new campaign's scored file uploaded to the embedded
stack's bucket, followed to its Slack message, then uploaded again to show that nothing changes."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.settings import Settings
from mm_platform.core.slack import SlackNotifier
from mm_platform.core.sql import engine_for
from mm_platform.verified_fan.dev.sample_data import scored_file
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.ledger import Ledger
from mm_platform.verified_fan.stores.resources import demand_table_of
from mm_platform.verified_fan.stores.services import CampaignService, EntryService

VERDICT_REPORT = AssetKey(["verified_fan", "verdict_report"])


@dataclass
class DemoCampaign:
    campaign_id: str
    key: str
    body: bytes


def new_campaign(settings: Settings, rows: int) -> DemoCampaign:
    """Registers a new campaign with the Campaign Service and makes its scored file."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    campaign_id = f"demo-{stamp}"
    events = [f"ev-{campaign_id}-{city}" for city in ("nyc", "chi", "lax")]
    CampaignService(base_url=settings.section(VerifiedFanSettings).campaign_service_url).put_json(
        f"/campaigns/{campaign_id}",
        {"name": f"Demo Tour {stamp}", "artist": "The Demo Band", "type": "verified-fan", "eventIds": events},
    )
    body = scored_file(rows, seed=int(time.time()), campaigns=[campaign_id], events=events, bad_share=0.01)
    return DemoCampaign(campaign_id, f"scrubbed/{campaign_id}.csv", body)


def upload(settings: Settings, demo: DemoCampaign) -> None:
    s3 = build_aws_resources(settings)["s3"].get_client()
    s3.put_object(Bucket=settings.section(VerifiedFanSettings).scoring_bucket, Key=demo.key, Body=demo.body)


def reports(instance: DagsterInstance, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's verdict_report materializations, newest first, as plain metadata."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=VERDICT_REPORT, asset_partitions=[campaign_id]), limit=20
    ).records
    return [{k: v.value for k, v in r.asset_materialization.metadata.items()} for r in records]


def wait_for_report(instance: DagsterInstance, demo: DemoCampaign, count: int, timeout: float) -> dict | None:
    """The newest final report once the campaign has `count` of them (a deferred one is not final)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        final = [r for r in reports(instance, demo.campaign_id) if r.get("outcome") != "deferred"]
        if len(final) >= count:
            return final[0]
        time.sleep(0.5)
    return None


def summary(settings: Settings, demo: DemoCampaign) -> tuple[list[str], bool]:
    """What the flow did for the campaign; False when counts and recount disagree."""
    vf = settings.section(VerifiedFanSettings)
    ledger = Ledger(engine_for(settings.platform_db_url))
    demand = demand_table_of(settings)
    lines = []
    for part in ledger.parts(object_key=demo.key, limit=5)[::-1]:
        lines.append(
            f"file {part.object_key} (part {part.id}): {part.rows_in:,} rows, {part.invalid:,} refused, "
            f"{part.duplicates:,} duplicates -> {part.records:,} members, {part.rank0:,} with a rank-0 event"
        )
    rejects = ledger.rejects(campaign_id=demo.campaign_id, limit=5)
    lines += [f"  refused line {r['line']}: {r['reason']}" for r in rejects]
    counts, recount = demand.counts(demo.campaign_id), demand.recount(demo.campaign_id)
    lines.append(f"meta:counts {counts} / recount {recount}: {'equal' if counts == recount else 'DIFFERENT'}")
    entries = EntryService(base_url=vf.entry_service_url).get_json(f"/scoring/{demo.campaign_id}")
    lines.append(f"entry service holds {entries.get('entries', '?'):,} rank-0 entries for the campaign")
    messages = [
        m
        for m in SlackNotifier(outbox_db_url=settings.platform_db_url).outbox()
        if demo.campaign_id in m["text"]
    ]
    lines += [f"Slack {m['channel']}: {m['text']}" for m in messages]
    return lines, counts == recount
