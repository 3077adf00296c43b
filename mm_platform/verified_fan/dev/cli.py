"""`mm-platform vf ...`: the on-call operator's view of Verified Fan files, refused rows and counts."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.cli_common import instance_of, load_settings, require_running_stack
from mm_platform.core.settings import Settings
from mm_platform.core.slack import SlackNotifier
from mm_platform.core.sql import engine_for
from mm_platform.verified_fan.dev import demo as vf_demo
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.demand_store import SLACK_COUNTS_SK
from mm_platform.verified_fan.stores.ledger import QUARANTINED, Ledger
from mm_platform.verified_fan.stores.resources import demand_table_of


def _ledger(settings: Settings) -> Ledger:
    return Ledger(engine_for(settings.platform_db_url))


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%m-%d %H:%M:%S") if value else "-"


def upload_of(file_ref: str) -> str:
    """Which upload of an object: a re-upload of the same key has its own time (and maybe ETag)."""
    _key, etag, modified = file_ref.rsplit("@", 2)
    return f"uploaded {modified[:19].replace('T', ' ')} etag {etag[:8]}"


@click.group()
def vf() -> None:
    """Verified Fan: scored files, refused rows, campaign counts, Slack messages."""


@vf.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", default=None, help="object key (default: scrubbed/<file name>)")
@click.option("--fanlist", is_flag=True, help="a fanlist score file (default key fanlist/scored/<file name>)")
def upload(file: Path, key: str | None, fanlist: bool) -> None:
    """Put a scored CSV (or .csv.gz) file into the scoring bucket; the sensor takes it from there."""
    settings = load_settings()
    key = key or f"{'fanlist/scored' if fanlist else 'scrubbed'}/{file.name}"
    if not key.startswith(("scrubbed/", "fanlist/scored/")):
        raise click.ClickException("the key must start with scrubbed/ or fanlist/scored/")
    bucket = settings.section(VerifiedFanSettings).scoring_bucket
    s3 = build_aws_resources(settings)["s3"].get_client()
    s3.put_object(Bucket=bucket, Key=key, Body=file.read_bytes())
    click.echo(f"uploaded s3://{bucket}/{key}")


@vf.command()
@click.option("--campaign", default=None)
@click.option("--file", "object_key", default=None, help="object key, e.g. scrubbed/tour.csv")
@click.option("--limit", default=30, show_default=True, type=int)
def files(campaign: str | None, object_key: str | None, limit: int) -> None:
    """Staged parts (a file's rows of one campaign), newest first, with the steps done."""
    parts = _ledger(load_settings()).parts(campaign_id=campaign, object_key=object_key, limit=limit)
    click.echo(
        f"{'part':>6} {'status':11} {'campaign':20} {'rows':>8} {'refused':>8} {'members':>8} "
        f"{'staged':15} {'applied':15} {'entry':15} file"
    )
    for p in parts:
        click.echo(
            f"{p.id:>6} {p.status:11} {p.campaign_id:20} {p.rows_in:>8,} {p.invalid:>8,} {p.records:>8,} "
            f"{_when(p.staged_at):15} {_when(p.applied_at):15} {_when(p.entry_scored_at):15} {p.object_key} "
            f"({upload_of(p.file_ref)})"
        )
        if p.status == QUARANTINED or p.attempts:
            click.echo(f"{'':>6} {p.last_error}")


@vf.command()
@click.option("--campaign", default=None)
@click.option("--file", "object_key", default=None, help="object key, e.g. scrubbed/tour.csv")
@click.option("--after-id", default=0, type=int, help="keyset paging: the last id of the previous page")
@click.option("--limit", default=50, show_default=True, type=int)
def rejects(campaign: str | None, object_key: str | None, after_id: int, limit: int) -> None:
    """Refused rows with their line number, step and reason."""
    rows = _ledger(load_settings()).rejects(
        campaign_id=campaign, object_key=object_key, after_id=after_id, limit=limit
    )
    for r in rows:
        click.echo(
            f"{r['id']:>7} {r['object_key']}:{r['line']} ({upload_of(r['file_ref'])}) "
            f"campaign={r['campaign_id'] or '-'} member={r['member_key'] or '-'} [{r['stage']}] {r['reason']}"
        )
    if len(rows) == limit:
        click.echo(f"-- more: --after-id {rows[-1]['id']}")


@vf.command()
@click.argument("campaign")
@click.option("--repair", is_flag=True, help="store the recount as the counts (takes the campaign's lease)")
def counts(campaign: str, repair: bool) -> None:
    """A campaign's counts: stored, recounted, last told to Slack; with --repair, recount and store."""
    demand = demand_table_of(load_settings())
    if repair:
        before, after = demand.repair_counts(
            campaign, f"operator-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}"
        )
        click.echo(f"repaired: {before} -> {after}")
    stored, recount = demand.counts(campaign), demand.recount(campaign)
    click.echo(f"stored   {stored}")
    click.echo(f"recount  {recount}  ({'equal' if stored == recount else 'DIFFERENT'})")
    click.echo(f"reported {demand.counts(campaign, SLACK_COUNTS_SK)}")
    writer = demand.writer(campaign)
    if writer:
        click.echo(f"writer   run {writer.get('run')} holds the lease (a run at work, or one that died)")


@vf.command()
@click.option("--limit", default=20, show_default=True, type=int)
def messages(limit: int) -> None:
    """Slack messages kept locally (no MM_PLATFORM_SLACK_TOKEN: the embedded stack), newest last."""
    outbox = SlackNotifier(outbox_db_url=load_settings().platform_db_url).outbox()
    for m in outbox[-limit:]:
        click.echo(f"{m['recorded_at']:%Y-%m-%d %H:%M:%S} {m['channel']} {m['text']}")


@click.command()
@click.option("--rows", default=5000, show_default=True, type=int, help="rows of the demo scored file")
@click.option("--timeout", default=120, show_default=True, type=float, help="seconds to wait for the flow")
def demo(rows: int, timeout: float) -> None:
    """A scored file to its Slack message: upload a new campaign's file, wait, upload it again."""
    settings = load_settings()
    require_running_stack(settings)
    instance = instance_of(settings)
    campaign = vf_demo.new_campaign(settings, rows)
    started = time.monotonic()
    vf_demo.upload(settings, campaign)
    click.echo(
        f"uploaded {campaign.key} ({rows:,} rows) to s3://{settings.section(VerifiedFanSettings).scoring_bucket}"
    )
    first = vf_demo.wait_for_report(instance, campaign, 1, timeout)
    if first is None or first.get("outcome") != "posted":
        raise click.ClickException(
            f"no Slack report for {campaign.campaign_id} within {timeout:.0f}s: {first}"
        )
    click.echo(f"reported to Slack {time.monotonic() - started:.1f}s after the upload\n")
    lines, exact = vf_demo.summary(settings, campaign)
    for line in lines:
        click.echo(line)
    time.sleep(1.1)  # S3 timestamps have one-second resolution: a re-upload must get a new one
    vf_demo.upload(settings, campaign)
    click.echo(f"\nuploaded {campaign.key} again")
    second = vf_demo.wait_for_report(instance, campaign, 2, timeout)
    if second is None:
        raise click.ClickException(
            f"the second upload of {campaign.key} was not processed within {timeout:.0f}s"
        )
    click.echo(f"processed again: report {second.get('outcome')} ({second.get('reason', '')})")
    if second.get("outcome") != "unchanged" or not exact:
        raise click.ClickException("the counts changed or disagree with a recount")
