"""The Arena ACL end to end for the scenario tests: the real broker (topics of its own per test), the
ledger on SQLite or PostgreSQL, the lookups stand-in over HTTP, the code location's sensor and job."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from dagster import DagsterInstance, build_sensor_context, materialize
from sqlalchemy import update

from mm_platform.arena.defs.assets import process_arena_ledger, publish_amt_deltakere, store_of
from mm_platform.arena.defs.sensors import build_arena_sensor
from mm_platform.arena.dev.lookups_standin import serving_in_thread
from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
)
from mm_platform.arena.stores.ledger_store import ArenaStore
from mm_platform.arena.stores.lookups import AmtTiltakApi, MulighetsrommetApi, OrdsApi
from mm_platform.arena.stores.resources import ArenaResource
from mm_platform.core.inbox import InboxResource, event_inbox
from mm_platform.core.kafka import KafkaResource
from mm_platform.domains import load_settings
from mm_platform_tests.arena.samples import envelope

TABLE_OF = {
    "gjennomforing": TILTAKGJENNOMFORING_TABLE,
    "deltaker": TILTAKDELTAKER_TABLE,
    "hist": HIST_TILTAKDELTAKER_TABLE,
}


def lookups_standin(tmp_path: Path, strict: bool = False, token: str | None = None):
    """The lookups stand-in in a thread of this process, its data in a file of the test's own."""
    database = str(tmp_path / f"lookups-{uuid.uuid4().hex[:8]}.db")
    return serving_in_thread(database, strict=strict, token=token)


@dataclass
class ArenaFlow:
    kafka: KafkaResource
    db_url: str
    lookups_url: str
    instance: DagsterInstance
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    cursor: str | None = None

    def __post_init__(self) -> None:
        self.arena = ArenaResource(
            gjennomforing_topic=f"arena.gjennomforing.{self.suffix}",
            deltaker_topic=f"arena.deltaker.{self.suffix}",
            hist_deltaker_topic=f"arena.hist.{self.suffix}",
            amt_topic=f"amt.tiltak.{self.suffix}",
            enkeltplass_topic=f"amt.enkeltplass.{self.suffix}",
            batch_size=2,  # paging is exercised by every scenario with more than two rows
        )
        self.kafka.create_topics(
            {t: 2 for t in (*self.arena.input_topics, self.arena.amt_topic, self.arena.enkeltplass_topic)}
        )
        self.inbox = InboxResource(database_url=self.db_url)
        self.store: ArenaStore = store_of(self.inbox)
        self.sensor = build_arena_sensor(load_settings({}), self.arena.input_topics)
        # `ingest` ticks until every message published is stored: a slow fetch on a loaded machine
        # costs another tick, not a missed message
        self.published = 0

    # ---- input ----------------------------------------------------------------------------------

    def topic_of(self, table: str) -> str:
        return {
            TILTAKGJENNOMFORING_TABLE: self.arena.gjennomforing_topic,
            TILTAKDELTAKER_TABLE: self.arena.deltaker_topic,
            HIST_TILTAKDELTAKER_TABLE: self.arena.hist_deltaker_topic,
        }[table]

    def publish_raw(self, topic: str, *values: bytes | str) -> None:
        self.kafka.produce(topic, list(values))
        self.published += len(values)

    def publish(self, table: str, op_type: str, payload: dict[str, Any], *, pos: int, **kwargs: Any) -> None:
        side = {"before": payload} if op_type == "D" else {"after": payload}
        document = envelope(table, op_type, pos=str(pos).zfill(20), **side, **kwargs)
        self.publish_raw(self.topic_of(table), json.dumps(document))

    def ingest(self) -> int:
        """Sensor ticks until every message published so far is in the ledger; how many runs they
        asked for."""
        requested, deadline = 0, time.monotonic() + 60
        while True:
            context = build_sensor_context(
                instance=self.instance,
                cursor=self.cursor,
                resources={"kafka": self.kafka, "inbox": self.inbox},
            )
            result = self.sensor.evaluate_tick(context)
            self.cursor = result.cursor
            requested += len(result.run_requests or [])
            counts = self.store.status_counts(self.arena.input_topics)
            if sum(n for by_status in counts.values() for n in by_status.values()) >= self.published:
                return requested
            assert time.monotonic() < deadline, f"{self.published} published, ledger holds {counts}"

    def run(self, include_failed: bool = False, publish: bool = True) -> dict[str, Any]:
        """One ledger run (process, then publish) as the job runs it; the ledger step's metadata.
        `publish=False`: the processing step alone, as if the run died before its relay."""
        resources = {
            "inbox": self.inbox,
            "arena": self.arena,
            "kafka": self.kafka,
            "mulighetsrommet": MulighetsrommetApi(base_url=self.lookups_url, retries=0),
            "ords": OrdsApi(base_url=self.lookups_url, retries=0),
            "amt_tiltak": AmtTiltakApi(base_url=self.lookups_url, retries=0),
        }
        result = materialize(
            [process_arena_ledger, publish_amt_deltakere] if publish else [process_arena_ledger],
            resources=resources,
            instance=self.instance,
            run_config={"ops": {"process_arena_ledger": {"config": {"include_failed": include_failed}}}},
        )
        assert result.success
        [ledger] = [
            m
            for m in result.asset_materializations_for_node("process_arena_ledger")
            if m.asset_key.path[-1] == "arena_data"
        ]
        return {k: v.value for k, v in ledger.metadata.items()}

    def ingest_and_run(self) -> dict[str, Any]:
        self.ingest()
        return self.run()

    # ---- lookups stand-in ------------------------------------------------------------------------

    def put_lookup(self, kind: str, key: str | int, body: Any) -> None:
        requests.put(f"{self.lookups_url}/_data/{kind}/{key}", json=body, timeout=5).raise_for_status()

    def force_answer(
        self, status: int, *, id: str | int | None = None, path_prefix: str | None = None, times: int = 100
    ) -> None:
        body: dict[str, Any] = {"status": status, "times": times}
        if id is not None:
            body["id"] = str(id)
        if path_prefix is not None:
            body["path_prefix"] = path_prefix
        requests.post(f"{self.lookups_url}/_answer", json=body, timeout=5).raise_for_status()

    # ---- what came out -------------------------------------------------------------------------------

    def rows(self, kind: str, arena_id: str | int) -> list[dict[str, Any]]:
        table = TABLE_OF[kind]
        return self.store.entity_history(self.topic_of(table), table, str(arena_id))

    def status(self, kind: str, arena_id: str | int) -> str | None:
        rows = self.rows(kind, arena_id)
        return rows[-1]["status"] if rows else None

    def output(self, which: str = "amt") -> list[tuple[str | None, Any]]:
        """Every message on an output topic so far: (key, decoded value)."""
        topic = self.arena.amt_topic if which == "amt" else self.arena.enkeltplass_topic
        records, _ = self.kafka.consume_batch([topic], {}, max_messages=100_000, max_seconds=10)
        return [
            (
                r.key.decode() if r.key is not None else None,
                json.loads(r.value) if r.value is not None else None,
            )
            for r in records
        ]

    def time_passes(self, minutes: int) -> None:
        """Move every row's last attempt back, as if `minutes` went by (the back-off reads it)."""
        with self.store.engine.begin() as conn:
            for row in conn.execute(event_inbox.select().where(event_inbox.c.last_attempted.is_not(None))):
                conn.execute(
                    update(event_inbox)
                    .where(event_inbox.c.id == row.id)
                    .values(last_attempted=row.last_attempted - dt.timedelta(minutes=minutes))
                )
