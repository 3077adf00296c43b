"""`mm-platform`: the operator's tool (dev stack, publish, inbox, replay)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from mm_platform.core.cli_common import load_settings
from mm_platform.core.devstack import REPO_ROOT, Stack, dev_environment
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource, KafkaUnavailableError
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for


def _kafka(settings: Settings) -> KafkaResource:
    return KafkaResource(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=os.environ.get("MM_PLATFORM_KAFKA_SASL_PASSWORD"),
        ssl_ca_location=settings.kafka_ssl_ca_location,
        request_timeout_seconds=settings.kafka_timeout_seconds,
    )


def _inbox(settings: Settings) -> EventInbox:
    inbox = EventInbox(engine_for(settings.platform_db_url))
    inbox.create_schema()
    return inbox


@click.group()
def main() -> None:
    """mm_platform operator commands. Settings come from MM_PLATFORM_* variables (see README)."""


def _default_stop_signals() -> None:
    """In the child: SIGINT/SIGTERM back to their defaults. A shell that starts us in the background
    ignores SIGINT, and an ignored signal stays ignored across exec, so `dg dev` would not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
def dev(host: str, port: int) -> None:
    """Start the embedded stack and the Dagster UI + daemon (sensors on); Ctrl-C stops it all."""
    settings = load_settings()
    if not settings.embedded:
        raise click.ClickException("`dev` runs the embedded stack; unset MM_PLATFORM_ENV=production")
    stack = Stack(settings)
    started = stack.up()
    click.echo(f"embedded stack ready (started: {', '.join(started) or 'nothing, already running'})")
    click.echo(f"state folder {settings.state_dir}; Dagster UI on http://{host}:{port}")
    command = [
        str(Path(sys.executable).with_name("dg")),
        "dev",
        "-w",
        str(REPO_ROOT / "workspace.yaml"),
        "--host",
        host,
        "--port",
        str(port),
    ]
    # run from DAGSTER_HOME: the repository's own dagster.yaml would otherwise be reported as ignored
    process = subprocess.Popen(
        command,
        cwd=settings.dagster_home,
        env=dev_environment(settings),
        start_new_session=True,
        preexec_fn=_default_stop_signals,
    )

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and a plain `kill` both stop everything; installed explicitly because a shell that
    # starts us in the background would have SIGINT ignored
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        process.wait()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        click.echo("stopping Dagster ...")
        # `dg dev` shuts its webserver, daemon and code servers down cleanly on SIGINT only
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    finally:
        if started:
            click.echo(f"stopping {', '.join(sorted(started))} ...")
            stack.down(started)
    sys.exit(process.returncode or 0)


@main.group()
def stack() -> None:
    """The embedded stack (Tansu broker, moto, state folder) on its own."""


@stack.command("up")
def stack_up() -> None:
    """Start the broker and moto in the background and load the sample data."""
    settings = load_settings()
    started = Stack(settings).up()
    click.echo(f"started: {', '.join(sorted(started)) or 'nothing (already running)'}")
    click.echo(f"export DAGSTER_HOME={settings.dagster_home}")


@stack.command("down")
def stack_down() -> None:
    """Stop the processes `stack up` started."""
    stopped = Stack(load_settings()).down()
    click.echo(f"stopped: {', '.join(stopped) or 'nothing'}")


@stack.command("status")
def stack_status() -> None:
    """Which services answer, and the inbox counts by status."""
    settings = load_settings()
    for name, up in Stack(settings).status().items():
        click.echo(f"{name:6} {'up' if up else 'DOWN'}")
    counts = _inbox(settings).counts()
    click.echo("inbox  " + (", ".join(f"{s}={n}" for s, n in sorted(counts.items())) or "empty"))


@main.command()
@click.argument("topic")
@click.option("--json", "json_text", help="the message value (a JSON document)")
@click.option(
    "--file", "json_file", type=click.Path(exists=True, dir_okay=False), help="read the value from a file"
)
@click.option("--raw", is_flag=True, help="send the value as it is, without checking it is JSON")
@click.option("--key", default=None, help="message key")
@click.option("--sample", type=click.Choice(["review-end"]), help="send a built-in sample event")
def publish(
    topic: str, json_text: str | None, json_file: str | None, raw: bool, key: str | None, sample: str | None
) -> None:
    """Publish one message to TOPIC (use '-' with --file for standard input)."""
    from mm_platform.marathon.sample_data import review_end_event

    sources = [v for v in (json_text, json_file, sample) if v]
    if len(sources) != 1:
        raise click.UsageError("give exactly one of --json, --file or --sample")
    if sample:
        value = json.dumps(review_end_event())
    elif json_file:
        value = Path(json_file).read_text()
    else:
        value = json_text or ""
    if not raw:
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"not JSON ({exc}); pass --raw to send it anyway") from exc
    try:
        _kafka(load_settings()).produce(topic, [value.encode()], key=key)
    except KafkaUnavailableError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"published 1 message to {topic}")


@main.command()
@click.option("--status", "statuses", multiple=True, type=click.Choice([s.value for s in Status]))
@click.option("--topic", default=None)
@click.option("--entity", default=None, help="entity key, e.g. project-30373282")
@click.option("--after-id", default=0, type=int, help="keyset paging: the last id of the previous page")
@click.option("--limit", default=50, type=int, show_default=True)
def inbox(
    statuses: tuple[str, ...], topic: str | None, entity: str | None, after_id: int, limit: int
) -> None:
    """List inbox events by status (oldest first)."""
    events = _inbox(load_settings()).select(
        statuses=[Status(s) for s in statuses] or None,
        topic=topic,
        entity_key=entity,
        after_id=after_id,
        limit=limit,
    )
    for e in events:
        # a Kafka message by its coordinates; an object (an S3 file) is named by its entity key
        where = e.topic if e.source_ref else f"{e.topic}[{e.partition}]@{e.offset}"
        click.echo(
            f"{e.id:>7} {e.status.value:8} {where} {e.event_type or '-':22} {e.entity_key or '-':20} "
            f"partition={e.partition_key or '-'} attempts={e.attempts} {e.reason or ''}"
        )
    if len(events) == limit:
        click.echo(f"-- more: --after-id {events[-1].id}")


@main.command()
@click.option("--topic", required=True)
@click.option("--entity", "entities", multiple=True, help="only these entity keys (default: all)")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    default=("HANDLED", "FAILED"),
    show_default=True,
    type=click.Choice([s.value for s in Status]),
)
def replay(topic: str, entities: tuple[str, ...], statuses: tuple[str, ...]) -> None:
    """Put the newest event of each entity back to RETRY; the topic's retry schedule runs it again."""
    count = _inbox(load_settings()).replay(
        topic, entity_keys=list(entities) or None, statuses=[Status(s) for s in statuses]
    )
    click.echo(f"{count} event(s) set to RETRY")


def _instance(settings: Settings):
    from dagster import DagsterInstance

    return (
        DagsterInstance.from_config(str(settings.dagster_home))
        if settings.embedded
        else DagsterInstance.get()
    )


@main.command()
@click.option(
    "--domain",
    type=click.Choice(["marathon", "verified-fan"]),
    default="marathon",
    show_default=True,
    help="marathon: a round's review-END to member stats; verified-fan: a scored file to its Slack message",
)
@click.option("--coders", default=300, show_default=True, type=int, help="coders in the demo round")
@click.option("--rows", default=5000, show_default=True, type=int, help="rows of the demo scored file")
@click.option("--timeout", default=120, show_default=True, type=float, help="seconds to wait for the flow")
def demo(domain: str, coders: int, rows: int, timeout: float) -> None:
    """Show a flow end to end on the running stack (`make dev`); exits 1 if anything failed.
    marathon: seed a round, publish its review-END event, wait for ratings and member stats.
    verified-fan: upload a new campaign's scored file, wait for its Slack message, upload it again."""
    settings = load_settings()
    for name, up in Stack(settings).status().items():
        if not up:
            raise click.ClickException(f"{name} is not reachable; start the stack with `make dev`")
    if domain == "verified-fan":
        _demo_verified_fan(settings, rows, timeout)
    else:
        _demo_marathon(settings, coders, timeout)


def _demo_verified_fan(settings: Settings, rows: int, timeout: float) -> None:
    from mm_platform.verified_fan.demo import new_campaign, summary, upload, wait_for_report

    instance = _instance(settings)
    demo = new_campaign(settings, rows)
    started = time.monotonic()
    upload(settings, demo)
    click.echo(f"uploaded {demo.key} ({rows:,} rows) to s3://{settings.verified_fan.scoring_bucket}")
    first = wait_for_report(instance, demo, 1, timeout)
    if first is None or first.get("outcome") != "posted":
        raise click.ClickException(f"no Slack report for {demo.campaign_id} within {timeout:.0f}s: {first}")
    click.echo(f"reported to Slack {time.monotonic() - started:.1f}s after the upload\n")
    lines, exact = summary(settings, demo)
    for line in lines:
        click.echo(line)
    time.sleep(1.1)  # S3 timestamps have one-second resolution: a re-upload must get a new one
    upload(settings, demo)
    click.echo(f"\nuploaded {demo.key} again")
    second = wait_for_report(instance, demo, 2, timeout)
    if second is None:
        raise click.ClickException(f"the second upload of {demo.key} was not processed within {timeout:.0f}s")
    click.echo(f"processed again: report {second.get('outcome')} ({second.get('reason', '')})")
    if second.get("outcome") != "unchanged" or not exact:
        raise click.ClickException("the counts changed or disagree with a recount")


def _demo_marathon(settings: Settings, coders: int, timeout: float) -> None:
    from mm_platform.core.aws import build_aws_resources
    from mm_platform.marathon.demo import publish_review_end, seed_demo_round, summary, wait_for_chain
    from mm_platform.marathon.dw_load import round_coder_ids
    from mm_platform.marathon.dw_schema import create_dw_schema
    from mm_platform.marathon.stats_store import read_items

    oltp, dw = engine_for(settings.oltp_db_url), engine_for(settings.dw_db_url)
    create_dw_schema(dw)
    round_ = seed_demo_round(oltp, coders)
    click.echo(f"seeded round {round_.round_id} (legacy project {round_.project_id}) with {coders} coders")
    started = time.monotonic()
    publish_review_end(_kafka(settings), settings.topics.autopilot, round_)
    click.echo(f"published its review-END event to {settings.topics.autopilot}")
    ok, why = wait_for_chain(
        _inbox(settings), settings.topics.autopilot, round_, timeout, lambda line: click.echo(f"  {line}")
    )
    if not ok:
        raise click.ClickException(why)
    click.echo(f"chain done in {time.monotonic() - started:.1f}s\n")
    with oltp.connect() as conn:
        members = round_coder_ids(conn, round_.round_id)
    dynamodb = build_aws_resources(settings)["dynamodb"]
    stats = {
        int(i["coderId"]): i
        for i in read_items(dynamodb.get_resource(), settings.member_stats_table, members)
    }
    for line in summary(oltp, dw, round_, stats):
        click.echo(line)
    if len(stats) != len(members):
        raise click.ClickException(f"{len(members) - len(stats)} member(s) of the round have no stats item")


@main.command()
@click.argument("coder_id", type=int)
def trace(coder_id: int) -> None:
    """Why a member profile is what it is: rounds, asset partitions along the chain, inbox events."""
    from mm_platform.marathon.trace import trace_member

    settings = load_settings()
    instance = _instance(settings)
    member, rounds = trace_member(
        coder_id, engine_for(settings.oltp_db_url), _inbox(settings), instance, settings.topics.autopilot
    )
    if member is None and not rounds:
        raise click.ClickException(f"coder {coder_id} is not in the OLTP database")
    if member is not None:
        click.echo(f"coder {coder_id} {member['handle']} (status {member['status']})")
    for r in rounds:
        rating = f"{r.old_rating or 'new'} -> {r.new_rating}" if r.rated else "not rated"
        click.echo(f"\nround {r.round_id}: attended={r.attended} {rating}")
        for step in r.steps:
            when = step.materialized_at.isoformat(timespec="seconds") if step.materialized_at else "-"
            click.echo(f"  {step.asset:30} {when:26} {step.verdict}")
        for e in r.events:
            click.echo(f"  inbox #{e.id} {e.status.value} {e.event_type or '-'} {e.reason or ''}".rstrip())
        click.echo(f"  => {r.problem or 'up to date'}")


def _add_domain_commands() -> None:
    from mm_platform.verified_fan.cli import vf

    main.add_command(vf)


_add_domain_commands()

if __name__ == "__main__":
    main()
