"""The floors under the Arena intake: how fast each of its three steps can go on this machine when it
does nothing but that step, next to what the intake's own call does. The intake cannot be faster
than the slowest floor, nor than the three floors in a row (one sensor tick runs them in turn).

    .venv/bin/python benchmarks/arena_floors.py [--messages 200000]

- read: confluent-kafka's consume() from a fresh Tansu, the messages only touched (the broker and
  client floor), then `KafkaResource.consume_batch` (the same plus a KafkaRecord per message);
- parse: `json.loads` of each value (the JSON floor), then `read_record` (envelope, typed payload,
  ledger JSON);
- store: the inbox rows written by `executemany` on a bare sqlite3 connection to the same table with
  the same indexes (the database floor), then `EventInbox.record_batch` (the dedup look-up, the
  insert through SQLAlchemy and the read-back of the stored rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from _support import broker
from arena_replay import PARTITIONS, arena_resource, generate, publish
from confluent_kafka import Consumer, TopicPartition

from mm_platform.arena.defs.sensors import to_ledger_event
from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
)
from mm_platform.arena.rules.intake import read_record
from mm_platform.core.inbox import EventInbox, event_inbox
from mm_platform.core.kafka import KafkaRecord, KafkaResource
from mm_platform.core.sql import engine_for

BATCH = 5000  # the sensor's per-tick budget


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:58s} {seconds:7.2f} s  {n / seconds:10,.0f} msg/s")


def read_floor(bootstrap: str, topics: list[str], n: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"floor-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(PARTITIONS)])
    start, seen, size = time.perf_counter(), 0, 0
    while seen < n:
        for message in consumer.consume(num_messages=500, timeout=1):
            if message.error() is None:
                size += len(message.value())
                seen += 1
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def read_intake(kafka: KafkaResource, topics: list[str], n: int) -> tuple[float, list[KafkaRecord]]:
    offsets: dict[str, dict[int, int]] = {}
    records: list[KafkaRecord] = []
    start = time.perf_counter()
    while len(records) < n:
        batch, offsets = kafka.consume_batch(topics, offsets, max_messages=BATCH, max_seconds=10)
        records += batch
    return time.perf_counter() - start, records


def store_floor(db: Path, rows: list[dict]) -> float:
    """The same inserts on a bare sqlite3 connection: no SQLAlchemy, no look-ups, no read-back."""
    engine = engine_for(f"sqlite:///{db}")
    EventInbox(engine).create_schema()
    engine.dispose()
    columns = list(rows[0])
    sql = (
        f"INSERT INTO {event_inbox.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING"
    )
    values = [tuple(r[c] for c in columns) for r in rows]  # encoded before the clock starts
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA journal_mode=WAL")
    start = time.perf_counter()
    for i in range(0, len(values), BATCH):
        with connection:
            connection.executemany(sql, values[i : i + BATCH])
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    n = args.messages
    with broker() as bootstrap, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kafka = KafkaResource(bootstrap_servers=bootstrap)
        arena = arena_resource(uuid.uuid4().hex[:8])
        topics = arena.input_topics
        kafka.create_topics({t: PARTITIONS for t in topics})
        tables = (TILTAKGJENNOMFORING_TABLE, TILTAKDELTAKER_TABLE, HIST_TILTAKDELTAKER_TABLE)
        publish(bootstrap, dict(zip(tables, topics, strict=True)), generate(n, n // 100, 50_000))

        print(f"{n:,} Arena messages (the replay's mix), one process, this machine\n")
        rate("read   floor: confluent-kafka consume(), values touched", n, read_floor(bootstrap, topics, n))
        seconds, records = read_intake(kafka, topics, n)
        rate("read   intake: KafkaResource.consume_batch", n, seconds)

        values = [r.value for r in records]
        start = time.perf_counter()
        for value in values:
            json.loads(value)
        rate("parse  floor: json.loads", n, time.perf_counter() - start)
        start = time.perf_counter()
        for value in values:
            read_record(value)
        rate("parse  intake: read_record", n, time.perf_counter() - start)
        start = time.perf_counter()
        events = [to_ledger_event(r) for r in records]
        rate("parse  intake: to_ledger_event (read_record + the row)", n, time.perf_counter() - start)

        now = dt.datetime.now(dt.timezone.utc).isoformat()
        rows = [
            {
                "topic": e.topic,
                "kafka_partition": e.partition,
                "kafka_offset": e.offset,
                "message_key": e.key,
                "payload": json.dumps(e.payload),
                "event_type": e.verdict.event_type,
                "entity_key": e.verdict.entity_key,
                "dedup_key": e.verdict.dedup_key,
                "status": e.verdict.status.value,
                "attempts": 0,
                "received_at": now,
                "updated_at": now,
            }
            for e in events
        ]
        rate(
            "store  floor: sqlite3 executemany, same table and indexes",
            n,
            store_floor(tmp / "floor.db", rows),
        )
        inbox = EventInbox(engine_for(f"sqlite:///{tmp / 'intake.db'}"))
        inbox.create_schema()
        start = time.perf_counter()
        for i in range(0, len(events), BATCH):
            inbox.record_batch(events[i : i + BATCH])
        rate("store  intake: EventInbox.record_batch", n, time.perf_counter() - start)


if __name__ == "__main__":
    main()
