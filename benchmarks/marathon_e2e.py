"""Review-END event -> member stats, end to end with a real Dagster daemon on the embedded pieces.

    .venv/bin/python benchmarks/marathon_e2e.py [--events 5] [--coders 1000]

Starts a throwaway broker and moto server, SQLite OLTP/DW/inbox databases and `dagster-daemon run`
with the repository's dagster.yaml. For each event it seeds a new round of `--coders` coders (the
first event warms the daemon's code server up and is not counted), publishes its review-END event
and times when each asset of the chain is materialized and when the inbox says HANDLED. Dagster's
sensor daemon evaluates sensors every 5 s at most, so events are published at random points of
that loop.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _support import REPO, broker, start_daemon, wait
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter

from mm_platform.core.devstack import free_port, start_moto, stop_process
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.demo import publish_review_end, seed_demo_round
from mm_platform.marathon.dev.sample_data import load_sample_data

STEPS = [
    "long_comp_result_attendance",
    "round_ratings",
    "dw_mm_ratings",
    "member_stats",
    "member_search_index",
]


def materialized_at(instance: DagsterInstance, name: str, partition: str) -> float | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(["marathon", name]), asset_partitions=[partition]), limit=1
    ).records
    return records[0].timestamp if records else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--coders", type=int, default=1000)
    args = parser.parse_args()
    with broker() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        moto_port = free_port()
        moto = start_moto("127.0.0.1", moto_port, Path(tmp) / "moto.log")
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        topic = f"bench.e2e.{uuid.uuid4().hex[:6]}"
        kafka = KafkaResource(bootstrap_servers=bootstrap)
        kafka.create_topics({topic: 3})
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "MM_PLATFORM_STATE_DIR": tmp,
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
            "MM_PLATFORM_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        }
        oltp_url = f"sqlite:///{tmp}/oltp.db"
        load_sample_data(oltp_url)
        inbox = EventInbox(engine_for(f"sqlite:///{tmp}/platform.db"))
        inbox.create_schema()
        instance = DagsterInstance.from_config(str(home))
        daemon = start_daemon(env)
        jitter = random.Random(7)
        timings: dict[str, list[float]] = {
            step: [] for step in ["run created", "run started", *STEPS, "inbox HANDLED"]
        }
        try:
            for i in range(args.events + 1):
                demo = seed_demo_round(engine_for(oltp_url), args.coders)
                # the sensor daemon looks every 5 s: publish at a random point of its loop
                time.sleep(jitter.uniform(0, 5))
                start = time.time()
                publish_review_end(kafka, topic, demo)
                partition = str(demo.round_id)
                done = wait(lambda p=partition: materialized_at(instance, STEPS[-1], p))
                handled = wait(
                    lambda d=demo: any(
                        e.status is Status.HANDLED
                        for e in inbox.select(topic=topic, entity_key=f"project-{d.project_id}")
                    )
                )
                handled_at = time.time() if handled else done
                if i == 0:
                    continue  # warm-up: the first run starts the daemon's code server
                for step in STEPS:
                    timings[step].append(materialized_at(instance, step, partition) - start)
                [record] = instance.get_run_records(
                    RunsFilter(tags={"dagster/partition": partition}), limit=1
                )
                timings["run created"].append(record.create_timestamp.timestamp() - start)
                timings["run started"].append(record.start_time - start)
                timings["inbox HANDLED"].append(handled_at - start)
        finally:
            stop_process(daemon.pid, timeout=20)
            stop_process(moto.pid)
    print(f"{args.events} events, {args.coders} coders per round, {dt.date.today()}")
    for step, values in timings.items():
        print(f"publish -> {step:28} median {statistics.median(values):5.1f} s   max {max(values):5.1f} s")


if __name__ == "__main__":
    main()
