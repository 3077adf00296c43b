"""`mm-platform scoring ...`: dead letters and leaderboards for the on-call operator, and the demo."""

from __future__ import annotations

import time

import click

from mm_platform.core.cli_common import inbox_of, kafka_of, load_settings, require_running_stack
from mm_platform.core.inbox import Status
from mm_platform.core.sql import engine_for
from mm_platform.scoring.dev import demo as scoring_demo
from mm_platform.scoring.dev.sample_data import EMBEDDED_API_TOKEN
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores.scores_store import ScoringStore
from mm_platform.scoring.stores.submission_api import SubmissionApi


@click.group()
def scoring() -> None:
    """Submission scoring: dead letters, leaderboards."""


@scoring.command("dead-letters")
@click.option("--limit", default=50, show_default=True, type=int)
def dead_letters(limit: int) -> None:
    """Submissions whose scoring gave up (inbox FAILED), newest last, with the reason. Replay one with
    `mm-platform replay --topic TOPIC --entity submission:ID` once its cause is fixed."""
    settings = load_settings()
    topic = settings.section(ScoringSettings).topic
    inbox = inbox_of(settings)
    failed, after = [], 0
    while page := inbox.select(statuses=[Status.FAILED], topic=topic, after_id=after, limit=1000):
        failed += page
        after = page[-1].id
    for e in failed[-limit:]:
        payload = e.payload if isinstance(e.payload, dict) else {}
        # the seed shape carries the fields itself, the bus envelope in its payload
        body = inner if isinstance(inner := payload.get("payload"), dict) else payload
        click.echo(
            f"{e.id:>8} {e.entity_key or '-'} challenge {body.get('challengeId', '-')} "
            f"member {body.get('memberId', '-')} attempts {e.attempts}: {e.reason}"
        )
    click.echo(f"{len(failed)} dead letter(s) on {topic}")


@scoring.command()
@click.argument("challenge_id")
def leaderboard(challenge_id: str) -> None:
    """A challenge's leaderboard per phase: rank, member, submission, raw and relative score."""
    for line in leaderboard_lines(ScoringStore(engine_for(load_settings().platform_db_url)), challenge_id):
        click.echo(line)


def leaderboard_lines(store: ScoringStore, challenge_id: str, members: set[str] | None = None) -> list[str]:
    lines = [
        f"challenge {challenge_id}",
        f"  {'phase':<12}{'rank':>5}  {'member':<20}{'raw':>12}{'relative':>10}",
    ]
    for row in store.leaderboard(challenge_id):
        if members is None or row.member_id in members:
            raw = "FAILED" if row.raw_score is None else f"{row.raw_score:.3f}"
            relative = "-" if row.relative_score is None else f"{row.relative_score:.2f}"
            lines.append(f"  {row.phase:<12}{row.rank:>5}  {row.member_id:<20}{raw:>12}{relative:>10}")
    return lines


@click.command()
@click.option("--timeout", default=300, show_default=True, type=float, help="seconds to wait for the flow")
def demo(timeout: float) -> None:
    """20 submissions over the two sample challenges (one broken, one crashing) to the leaderboard."""
    settings = load_settings()
    require_running_stack(settings)
    scoring_settings = settings.section(ScoringSettings)
    if not scoring_settings.submissions_bucket or not settings.aws_endpoint_url:
        raise click.ClickException("the demo needs the embedded stack's sample submissions bucket")
    submissions = scoring_demo.demo_submissions(
        settings.aws_endpoint_url, scoring_settings.submissions_bucket
    )
    started = time.monotonic()
    scoring_demo.publish(kafka_of(settings), scoring_settings.topic, submissions)
    click.echo(f"published {len(submissions)} submissions to {scoring_settings.topic}")
    inbox = inbox_of(settings)
    done = scoring_demo.wait_until_settled(inbox, scoring_settings.topic, submissions, timeout)
    click.echo(f"{len(done)} of {len(submissions)} settled after {time.monotonic() - started:.1f}s\n")
    store = ScoringStore(engine_for(settings.platform_db_url))
    api = SubmissionApi(base_url=scoring_settings.submission_api_url)
    problems = scoring_demo.verify(store, api, EMBEDDED_API_TOKEN, submissions, done)
    for challenge in sorted({s.challenge_id for s in submissions}):
        members = {s.event["memberId"] for s in submissions if s.challenge_id == challenge}
        for line in leaderboard_lines(store, challenge, members):
            click.echo(line)
    click.echo("\ndead letters:")
    for s in submissions:
        if done.get(s.submission_id) is Status.FAILED:
            event = inbox.select(entity_key=f"submission:{s.submission_id}", limit=1)
            click.echo(f"  {s.submission_id} ({s.kind}): {event[0].reason if event else '?'}")
    if problems:
        raise click.ClickException("\n".join(["the demo found problems:", *problems]))
    click.echo("\nevery submission scored or dead-lettered as expected")
