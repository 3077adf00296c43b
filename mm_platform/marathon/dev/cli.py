"""The marathon domain's commands: `mm-platform trace CODER_ID` and its demo."""

from __future__ import annotations

import time

import click
from botocore.exceptions import BotoCoreError, ClientError

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.cli_common import inbox_of, instance_of, kafka_of, load_settings, require_running_stack
from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.demo import (
    publish_review_end,
    seed_demo_round,
    summary,
    timeline,
    wait_for_chain,
)
from mm_platform.marathon.dev.trace import published_profile, trace_member
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores.dw_load import round_coder_ids
from mm_platform.marathon.stores.dw_schema import create_dw_schema
from mm_platform.marathon.stores.stats_store import read_items


@click.command()
@click.option("--coders", default=300, show_default=True, type=int, help="coders in the demo round")
@click.option("--timeout", default=120, show_default=True, type=float, help="seconds to wait for the chain")
def demo(coders: int, timeout: float) -> None:
    """A round's review-END to member stats: seed a round, publish its event, wait for the chain."""
    settings = load_settings()
    require_running_stack(settings)
    marathon = settings.section(MarathonSettings)
    oltp, dw = engine_for(settings.oltp_db_url), engine_for(settings.dw_db_url)
    create_dw_schema(dw)
    round_ = seed_demo_round(oltp, coders)
    click.echo(f"seeded round {round_.round_id} (legacy project {round_.project_id}) with {coders} coders")
    published_at = time.time()
    publish_review_end(kafka_of(settings), marathon.topics.autopilot, round_)
    click.echo(f"published its review-END event to {marathon.topics.autopilot}; waiting for the chain")
    wait = wait_for_chain(inbox_of(settings), marathon.topics.autopilot, round_, timeout)
    for line in timeline(instance_of(settings), wait, published_at, round_.round_id):
        click.echo(line)
    if not wait.ok:
        raise click.ClickException(wait.why)
    click.echo(f"chain done in {time.time() - published_at:.1f}s\n")
    with oltp.connect() as conn:
        members = round_coder_ids(conn, round_.round_id)
    dynamodb = build_aws_resources(settings)["dynamodb"].get_client()
    stats = read_items(dynamodb, marathon.member_stats_table, members)
    for line in summary(oltp, dw, round_, stats):
        click.echo(line)
    if len(stats) != len(members):
        raise click.ClickException(f"{len(members) - len(stats)} member(s) of the round have no stats item")


@click.command()
@click.argument("coder_id", type=int)
def trace(coder_id: int) -> None:
    """Why a member profile is what it is: rounds, asset partitions along the chain, inbox events."""
    settings = load_settings()
    member, rounds = trace_member(
        coder_id,
        engine_for(settings.oltp_db_url),
        inbox_of(settings),
        instance_of(settings),
        settings.section(MarathonSettings).topics.autopilot,
    )
    if member is None and not rounds:
        raise click.ClickException(f"coder {coder_id} is not in the OLTP database")
    if member is not None:
        click.echo(f"coder {coder_id} {member['handle']} (status {member['status']})")
    if member is not None and not rounds:
        click.echo("registered for no round: no marathon profile to trace")
    for r in rounds:
        if r.no_result:
            click.echo(f"\nround {r.round_id}: registered, no result row")
        else:
            rating = f"{r.old_rating or 'new'} -> {r.new_rating}" if r.rated else "not rated"
            click.echo(f"\nround {r.round_id}: attended={r.attended} {rating}")
        for step in r.steps:
            when = step.materialized_at.isoformat(timespec="seconds") if step.materialized_at else "-"
            click.echo(f"  {step.asset:30} {when:26} {step.verdict}")
        for e in r.events:
            click.echo(f"  inbox #{e.id} {e.status.value} {e.event_type or '-'} {e.reason or ''}".rstrip())
        click.echo(f"  => {r.problem or 'up to date'}")
    if member is not None:
        marathon = settings.section(MarathonSettings)
        client = build_aws_resources(settings)["dynamodb"].get_client()
        click.echo("")
        try:
            stats = read_items(client, marathon.member_stats_table, [coder_id]).get(coder_id)
            history = read_items(client, marathon.member_history_table, [coder_id]).get(coder_id)
        except (BotoCoreError, ClientError) as exc:  # the profile is one part of the trace, not all of it
            click.echo(f"member profile: could not read DynamoDB ({exc})")
        else:
            for line in published_profile(stats, history):
                click.echo(line)
