"""`mm-platform arena ...`: the ledger for the on-call operator (status, show, explain-status,
resend-deltakere); `mm-platform replay --topic ...` puts the newest row per Arena id back to RETRY."""

from __future__ import annotations

import datetime as dt
import json

import click

from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
)
from mm_platform.arena.rules.explain import ExplainError, explain_status
from mm_platform.arena.rules.ledger import ArenaStatus
from mm_platform.arena.settings import ArenaSettings
from mm_platform.arena.stores.ledger_store import ArenaStore
from mm_platform.core.cli_common import load_settings
from mm_platform.core.sql import engine_for

TABLES = {
    "gjennomforing": TILTAKGJENNOMFORING_TABLE,
    "deltaker": TILTAKDELTAKER_TABLE,
    "hist": HIST_TILTAKDELTAKER_TABLE,
}


def _store_and_topics() -> tuple[ArenaStore, ArenaSettings]:
    settings = load_settings([ArenaSettings])
    return ArenaStore.open(engine_for(settings.platform_db_url)), settings.section(ArenaSettings)


def _topic_of(arena: ArenaSettings, table: str) -> str:
    return {
        TILTAKGJENNOMFORING_TABLE: arena.gjennomforing_topic,
        TILTAKDELTAKER_TABLE: arena.deltaker_topic,
        HIST_TILTAKDELTAKER_TABLE: arena.hist_deltaker_topic,
    }[table]


@click.group()
def arena() -> None:
    """Arena ACL: the arena_data ledger, its statuses and the messages published for it."""


@arena.command()
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def status(as_json: bool) -> None:
    """Ledger rows per Arena table and status, and output messages waiting to be produced."""
    store, settings = _store_and_topics()
    counts = store.status_counts(list(settings.input_topics))
    by_table = {table: counts[_topic_of(settings, table)] for table in TABLES.values()}
    pending = store.pending_outbox_count()
    if as_json:
        click.echo(json.dumps({"ledger": by_table, "outbox_pending": pending}, indent=2, sort_keys=True))
        return
    statuses = [s.value for s in ArenaStatus]
    click.echo(f"{'table':<28}" + "".join(f"{s:>16}" for s in statuses))
    for table, row in by_table.items():
        click.echo(f"{table:<28}" + "".join(f"{row.get(s, 0):>16}" for s in statuses))
    click.echo(f"output messages waiting to be produced: {pending}")


@arena.command()
@click.argument("table", type=click.Choice(sorted(TABLES)))
@click.argument("arena_id")
def show(table: str, arena_id: str) -> None:
    """The ledger history of one Arena id in pos order: status, attempts, note, and what was published."""
    store, settings = _store_and_topics()
    name = TABLES[table]
    history = store.entity_history(_topic_of(settings, name), name, arena_id)
    if not history:
        raise click.ClickException(f"no ledger row for {name} id {arena_id}")
    click.echo(
        json.dumps({"table": name, "arena_id": arena_id, "rows": history}, indent=2, ensure_ascii=False)
    )


@arena.command("explain-status")
@click.option("--json", "fields_json", required=True, help="the converter's inputs as a JSON object")
def explain(fields_json: str) -> None:
    """Why a deltaker got its AMT status: the status and aarsak converters on explicit inputs."""
    try:
        fields = json.loads(fields_json)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--json is not JSON: {exc}") from exc
    try:
        answer = explain_status(fields, dt.datetime.now())
    except ExplainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(answer, ensure_ascii=False))


@arena.command("resend-deltakere")
@click.option("--arena-id", "arena_ids", multiple=True, help="only these TILTAKDELTAKER ids (default: all)")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in ArenaStatus]),
    default=[ArenaStatus.HANDLED.value],
    show_default=True,
    help="re-send an id only when its newest row is at one of these",
)
def resend_deltakere(arena_ids: tuple[str, ...], statuses: tuple[str, ...]) -> None:
    """The README's re-send: the newest row (by pos) of each deltaker back to RETRY with 0 attempts;
    the next ledger run publishes each deltaker again as Arena knows it now."""
    store, settings = _store_and_topics()
    count = store.resend(settings.deltaker_topic, [ArenaStatus(s) for s in statuses], list(arena_ids) or None)
    click.echo(f"{count} deltaker(e) set to RETRY; the next ledger run (at most 10 minutes) re-sends them")
