"""`mm-platform arena ...`: the ledger for the on-call operator (status, show, explain-status,
resend-deltakere); `mm-platform replay --topic ...` puts the newest row per Arena id back to RETRY;
`mm-platform demo --domain arena` shows the flow on the running stack."""

from __future__ import annotations

import datetime as dt
import json
import time

import click

from mm_platform.arena.dev.demo import (
    DELETE_NOTE,
    ArenaDemo,
    Expected,
    amt_ids,
    describe,
    differences,
    ledger_rows,
    output_messages,
    settled,
    wait_for,
)
from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
)
from mm_platform.arena.rules.explain import ExplainError, explain_status
from mm_platform.arena.rules.ledger import ArenaStatus
from mm_platform.arena.settings import ArenaSettings
from mm_platform.arena.stores.ledger_store import ArenaStore
from mm_platform.core.cli_common import kafka_of, load_settings, require_running_stack
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


@click.command()
@click.option("--timeout", default=120.0, show_default=True, help="seconds to wait for each step")
def demo(timeout: float) -> None:
    """Every kind of gjennomføring and deltaker through the ledger to the AMT topic, checked.

    Exits 1 when a ledger status or an output message differs from what the spec expects."""
    settings = load_settings([ArenaSettings])
    require_running_stack(settings)
    arena_settings = settings.section(ArenaSettings)
    kafka = kafka_of(settings)
    store = ArenaStore.open(engine_for(settings.platform_db_url))
    d = ArenaDemo(kafka, arena_settings)
    g, dl = TILTAKGJENNOMFORING_TABLE, TILTAKDELTAKER_TABLE
    expected: dict[str, Expected] = {}
    problems: list[str] = []
    started = time.monotonic()

    def step(title: str, wanted: dict[str, Expected]) -> None:
        expected.update(wanted)
        wait_for(settled(store, d, wanted), time.monotonic() + timeout)
        off = differences(ledger_rows(store, d), wanted)
        problems.extend(f"{title}: {problem}" for problem in off.values())
        ok = not off
        click.echo(
            f"{title}: {'as expected' if ok else 'NOT as expected'} after {time.monotonic() - started:.1f}s"
        )

    click.echo(f"demo run {d.run}: Arena ids {d.ids['G1']}..{d.ids['P']} (P is the person)")
    d.publish("G1", g, "I", d.gjennomforing("G1"))
    d.publish("G2", g, "I", d.gjennomforing("G2", ARBGIV_ID_ARRANGOR=None))
    d.publish("G3", g, "I", d.gjennomforing("G3", "AMO"))
    step(
        "gjennomføringer G1 (INDOPPFAG), G2 (no ARBGIV_ID_ARRANGOR), G3 (AMO)",
        {"G1": Expected("HANDLED"), "G2": Expected("HANDLED", "ugyldig"), "G3": Expected("IGNORED")},
    )
    d.publish("A", dl, "I", d.deltaker("A", "G1"))
    d.publish("B", dl, "I", d.deltaker("B", "G2"))
    d.publish("C", dl, "I", d.deltaker("C", "G3"))
    d.publish_raw("not-json", arena_settings.deltaker_topic, "this is not JSON")
    d.publish("id-0", dl, "I", d.deltaker("A", "G1", TILTAKDELTAKER_ID=0))
    step(
        "deltakere A (on G1), B (on G2), C (on G3), a value that is not JSON, TILTAKDELTAKER_ID 0",
        {
            "A": Expected("HANDLED"),
            "B": Expected("WAITING"),
            "C": Expected("IGNORED"),
            "not-json": Expected("INVALID", "not JSON"),
            "id-0": Expected("INVALID", "TILTAKDELTAKER_ID is 0"),
        },
    )
    d.publish("G2-valid", g, "U", d.gjennomforing("G2"))
    step(
        "a valid version of G2: B re-queued and published",
        {"G2-valid": Expected("HANDLED", "satt til RETRY"), "B": Expected("HANDLED")},
    )
    d.publish("A-delete", dl, "D", d.deltaker("A", "G1"))
    step("a delete of A", {"A-delete": Expected("RETRY", DELETE_NOTE)})

    click.echo(f"\n{'name':<10}{'table':<28}{'arena id':>12}  {'pos':<22}{'status':<10}note")
    rows = ledger_rows(store, d)
    for name, row in rows.items():
        click.echo(f"{name:<10}{row.table:<28}{row.arena_id:>12}  {row.pos:<22}{row.status:<10}{row.note}")
    problems += differences(rows, expected).values()

    wanted_out = {"A": ["CREATED VENTER_PA_OPPSTART"], "B": ["CREATED VENTER_PA_OPPSTART"]}
    topics = [arena_settings.amt_topic, arena_settings.enkeltplass_topic]
    keys = amt_ids(store, d, ["A", "B", "C"])
    found: dict[str, list[str]] = {}

    def outputs_equal() -> bool:
        found.clear()
        for name, _topic, message in output_messages(kafka, topics, keys):
            found.setdefault(name, []).append(describe(message))
        return found == wanted_out

    wait_for(outputs_equal, time.monotonic() + timeout, poll=1)
    click.echo("\noutput messages:")
    for name, amt_id in keys.items():
        click.echo(f"  {name} (AMT id {amt_id}): {', '.join(found.get(name, [])) or 'none'}")
    if found != wanted_out:
        problems.append(f"output messages {found}, expected {wanted_out}")
    click.echo(
        "\nthe delete of A stays RETRY: it waits two retry rounds (10 and 20 minutes) for the hist message,"
        "\nthen A is published as FEILREGISTRERT"
    )
    if problems:
        raise click.ClickException("\n".join(["the demo found differences:", *problems]))
    click.echo("every ledger status and output message equal to the expected ones")
