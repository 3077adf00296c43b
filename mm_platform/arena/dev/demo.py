"""`mm-platform demo --domain arena`: gjennomføringer and deltakere of every kind the ledger treats
differently, published on the running stack and followed from the Arena topics to the ledger statuses
and the AMT messages. Every Kafka message of one invocation carries the key `arena-demo-<run>-<name>`,
so the demo finds its own ledger rows (also the unreadable ones) and can run again on the same stack."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mm_platform.arena.rules.envelope import TILTAKDELTAKER_TABLE, TILTAKGJENNOMFORING_TABLE
from mm_platform.arena.settings import ArenaSettings
from mm_platform.arena.stores.ledger_store import ArenaStore, pos_of
from mm_platform.core.inbox import event_inbox
from mm_platform.core.kafka import KafkaResource

DELETE_NOTE = "Venter på historisering"
# statuses a row does not leave by itself: reaching one but not the expected one ends a wait early
FINAL = {"HANDLED", "IGNORED", "INVALID", "FAILED"}


@dataclass(frozen=True)
class Row:
    """One ledger row of the demo, as printed and compared."""

    name: str  # the demo's name for the message (G1, A, not-json, ...)
    table: str
    arena_id: str
    pos: str
    status: str
    note: str


@dataclass(frozen=True)
class Expected:
    status: str
    note: str = ""  # a part of the note, when it matters


class ArenaDemo:
    """Builds and publishes the demo's messages: fresh ids per run, pos increasing across the run."""

    def __init__(self, kafka: KafkaResource, arena: ArenaSettings) -> None:
        self.kafka, self.arena = kafka, arena
        self.run = uuid.uuid4().hex[:8]
        base = random.randint(10**8, 9 * 10**8)  # fresh Arena ids: the demo can run again on one stack
        self.ids = {n: base + i for i, n in enumerate(("G1", "G2", "G3", "A", "B", "C", "P"))}
        self._pos = time.time_ns() // 1000  # microseconds: later runs get higher pos values too
        self.today = dt.datetime.now(ZoneInfo(arena.timezone)).date()

    def key(self, name: str) -> str:
        return f"arena-demo-{self.run}-{name}"

    def next_pos(self) -> str:
        self._pos += 1
        return str(self._pos).zfill(20)

    def gjennomforing(self, name: str, tiltakskode: str = "INDOPPFAG", **changes: Any) -> dict[str, Any]:
        return {
            "TILTAKGJENNOMFORING_ID": self.ids[name],
            "SAK_ID": self.ids[name] + 1000,
            "TILTAKSKODE": tiltakskode,
            "ARBGIV_ID_ARRANGOR": 272588,
            "LOKALTNAVN": f"Arena-demo {name} ({self.run})",
            "TILTAKSTATUSKODE": "GJENNOMFOR",
            "REG_DATO": "2026-01-05 08:00:00",
            "DATO_FRA": "2026-01-05 00:00:00",
            "DATO_TIL": None,
            **changes,
        }

    def deltaker(self, name: str, gjennomforing: str, **changes: Any) -> dict[str, Any]:
        start = self.today + dt.timedelta(days=1)
        return {
            "TILTAKDELTAKER_ID": self.ids[name],
            "PERSON_ID": self.ids["P"],
            "TILTAKGJENNOMFORING_ID": self.ids[gjennomforing],
            "DELTAKERSTATUSKODE": "GJENN",
            "DELTAKERTYPEKODE": "INNSOKT",
            "REG_DATO": "2026-01-06 09:00:00",
            "MOD_DATO": "2026-01-06 09:00:00",
            "DATO_FRA": f"{start.isoformat()} 00:00:00",
            "DATO_TIL": f"{(start + dt.timedelta(days=60)).isoformat()} 00:00:00",
            "DATO_STATUSENDRING": "2026-01-06 09:00:00",
            "BRUKERID_STATUSENDRING": "DEMO1234",
            "AKTIVITET_ID": self.ids[name] + 1000,
            "PROSENT_DELTID": 100,
            "ANTALL_DAGER_PR_UKE": 5,
            **changes,
        }

    def publish(self, name: str, table: str, op_type: str, payload: dict[str, Any]) -> None:
        side = {"before": payload, "after": None} if op_type == "D" else {"before": None, "after": payload}
        now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
        document = {
            "table": table,
            "op_type": op_type,
            "op_ts": now,
            "current_ts": now,
            "pos": self.next_pos(),
        }
        self.publish_raw(name, self.topic_of(table), json.dumps({**document, **side}))

    def publish_raw(self, name: str, topic: str, value: str) -> None:
        self.kafka.produce(topic, [value], key=self.key(name))

    def topic_of(self, table: str) -> str:
        return (
            self.arena.gjennomforing_topic
            if table == TILTAKGJENNOMFORING_TABLE
            else self.arena.deltaker_topic
        )


def ledger_rows(store: ArenaStore, demo: ArenaDemo) -> dict[str, Row]:
    """The demo's ledger rows by name (the Kafka key's last part)."""
    prefix = demo.key("")
    query = select(event_inbox).where(event_inbox.c.message_key.like(prefix + "%")).order_by(event_inbox.c.id)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    found: dict[str, Row] = {}
    for r in rows:
        table, _, arena_id = (r.entity_key or "-:-").partition(":")
        name = r.message_key[len(prefix) :]
        found[name] = Row(name, table, arena_id, pos_of(r.dedup_key) or "-", r.status, r.reason or "")
    return found


def wait_for(condition: Callable[[], bool], deadline: float, poll: float = 0.5) -> bool:
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def differences(rows: dict[str, Row], expected: dict[str, Expected]) -> dict[str, str]:
    """What is off, by name: a missing row, another status, a note without the expected part."""
    off: dict[str, str] = {}
    for name, want in expected.items():
        got = rows.get(name)
        if got is None or got.status != want.status or want.note not in got.note:
            found = f"{got.status} {got.note!r}" if got else "no ledger row"
            off[name] = f"{name}: {found}, expected {want.status}" + (f" {want.note!r}" if want.note else "")
    return off


def settled(store: ArenaStore, demo: ArenaDemo, expected: dict[str, Expected]) -> Callable[[], bool]:
    """True once every expected row is as expected, or once one is final at another status."""

    def check() -> bool:
        rows = ledger_rows(store, demo)
        off = differences(rows, expected)
        return not off or any(n in rows and rows[n].status in FINAL for n in off)

    return check


def amt_ids(store: ArenaStore, demo: ArenaDemo, names: list[str]) -> dict[str, str]:
    """The AMT id of each demo deltaker that got one (the key of its output messages)."""
    with store.engine.connect() as conn:
        ids = {n: store.amt_id(conn, TILTAKDELTAKER_TABLE, str(demo.ids[n])) for n in names}
    return {n: str(i) for n, i in ids.items() if i is not None}


def output_messages(
    kafka: KafkaResource, topics: list[str], keys: dict[str, str]
) -> list[tuple[str, str, Any]]:
    """(deltaker name, topic, decoded value) of every message on the output topics keyed by one of the
    demo's AMT ids, read from offset 0."""
    by_key = {amt_id: name for name, amt_id in keys.items()}
    records, _ = kafka.consume_batch(topics, {}, max_messages=1_000_000, max_seconds=10)
    return [
        (by_key[r.key.decode()], r.topic, json.loads(r.value) if r.value is not None else None)
        for r in records
        if r.key is not None and r.key.decode() in by_key
    ]


def describe(message: Any) -> str:
    if not isinstance(message, dict):
        return "tombstone"
    deltaker = message.get("payload", message)
    return f"{message.get('operation', '-')} {deltaker.get('status')}"
