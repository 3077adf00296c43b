"""Sensor ingestion rate next to a raw confluent-kafka read of the same topic.

    .venv/bin/python benchmarks/kafka_ingest.py [--messages 10000] [--db-url URL]

The sensor rate is what a tick really does: read a bounded batch, route every message (JSON parse,
event rules, a cached round lookup), persist it to the inbox and build run requests.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from _support import broker
from confluent_kafka import Consumer, TopicPartition
from dagster import build_sensor_context, instance_for_test

from mm_platform.core.inbox import EventInbox
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sensors import KafkaCursor
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.marathon.dev.sample_data import NON_MARATHON_PROJECT_ID, load_sample_data, review_end_event


def messages(n: int) -> list[bytes]:
    """Mostly phase events other than Review END (as on the real topic), some Review ENDs of a
    non-marathon project, a few of the sample round, and a little garbage."""
    out = []
    for i in range(n):
        event = review_end_event(phase_id=i)
        if i % 50 == 0:
            out.append(json.dumps(event).encode())
        elif i % 10 == 0:
            event["payload"]["projectId"] = NON_MARATHON_PROJECT_ID
            out.append(json.dumps(event).encode())
        elif i % 997 == 0:
            out.append(b"{not json")
        else:
            event["payload"].update(phaseTypeName="Submission", state="START" if i % 2 else "END")
            out.append(json.dumps(event).encode())
    return out


def raw_read(bootstrap: str, topic: str, expected: int) -> float:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    start = time.perf_counter()
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    seen = 0
    while seen < expected:
        seen += sum(1 for m in consumer.consume(500, timeout=1.0) if m.error() is None)
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def sensor_read(
    bootstrap: str, topic: str, expected: int, db_url: str | None, state: Path
) -> tuple[float, int]:
    db = db_url or f"sqlite:///{state}/bench.db"
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(state),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
            "MM_PLATFORM_OLTP_DB_URL": db,
            "MM_PLATFORM_PLATFORM_DB_URL": db,
        }
    )
    load_sample_data(db)
    EventInbox(engine_for(db)).create_schema()
    defs = build_definitions(settings)
    with instance_for_test() as instance:
        sensor = defs.get_repository_def().get_sensor_def("marathon_review_end_sensor")
        cursor, ticks, runs = None, 0, 0
        start = time.perf_counter()
        while True:
            context = build_sensor_context(
                instance=instance,
                instance_ref=instance.get_ref(),
                cursor=cursor,
                resources={k: defs.resources[k] for k in ("kafka", "inbox", "oltp_db")},
                definitions=defs,
            )
            result = sensor.evaluate_tick(context)
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
            cursor, ticks, runs = result.cursor, ticks + 1, runs + len(result.run_requests or [])
            if sum(KafkaCursor.parse(cursor).offsets[topic].values()) >= expected:
                break
        elapsed = time.perf_counter() - start
    stored = sum(EventInbox(engine_for(db)).counts(topic).values())
    assert stored == expected, f"inbox holds {stored} of {expected} messages"
    print(f"sensor: {ticks} ticks, {runs} run request(s), inbox rows {stored}")
    return elapsed, ticks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--db-url", default=None, help="inbox database (default: a SQLite file)")
    args = parser.parse_args()
    with broker() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        kafka = KafkaResource(bootstrap_servers=bootstrap)
        topic = f"bench.{uuid.uuid4().hex[:8]}"
        kafka.create_topics({topic: 3})
        start = time.perf_counter()
        kafka.produce(topic, messages(args.messages))
        produce = time.perf_counter() - start
        raw = raw_read(bootstrap, topic, args.messages)
        sensor, _ = sensor_read(bootstrap, topic, args.messages, args.db_url, Path(tmp))
    n = args.messages
    print(f"messages            {n}")
    print(f"produce             {produce:7.2f} s  {n / produce:10.0f} msg/s")
    print(f"raw confluent read  {raw:7.2f} s  {n / raw:10.0f} msg/s")
    print(f"sensor -> inbox     {sensor:7.2f} s  {n / sensor:10.0f} msg/s")
    print(f"ratio sensor/raw    {raw / sensor:7.3f}  (raw is {sensor / raw:.1f}x faster)")


if __name__ == "__main__":
    main()
