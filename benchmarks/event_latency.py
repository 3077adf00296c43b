"""Review-END event -> attendance materialization latency with a real Dagster daemon.

    .venv/bin/python benchmarks/event_latency.py [--events 5]

Starts a throwaway broker, a SQLite OLTP with the sample round and `dagster-daemon run` with the
repository's dagster.yaml, then publishes one event at a time (each a new review phase of the sample
round) and waits for its materialization and for the inbox to say HANDLED.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _support import broker
from dagster import AssetKey, DagsterInstance

from mm_platform.core.devstack import stop_process
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.marathon.sample_data import load_sample_data, review_end_event

REPO = Path(__file__).resolve().parents[1]
ATTENDANCE = AssetKey(["marathon", "long_comp_result_attendance"])


def wait(condition, timeout: float = 180) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError("no result within the timeout")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5)
    args = parser.parse_args()
    with broker() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
        kafka = KafkaResource(bootstrap_servers=bootstrap)
        kafka.create_topics({topic: 3})
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "MM_PLATFORM_STATE_DIR": tmp,
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
            "MM_PLATFORM_OLTP_DB_URL": f"sqlite:///{tmp}/oltp.db",
            "MM_PLATFORM_PLATFORM_DB_URL": f"sqlite:///{tmp}/platform.db",
        }
        load_sample_data(env["MM_PLATFORM_OLTP_DB_URL"])
        inbox = EventInbox(engine_for(env["MM_PLATFORM_PLATFORM_DB_URL"]))
        inbox.create_schema()
        instance = DagsterInstance.from_config(str(home))
        daemon = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-daemon")),
                "run",
                "-w",
                str(REPO / "workspace.yaml"),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # warm-up: the daemon's first sensor tick starts the code server
            kafka.produce(topic, [json.dumps(review_end_event(phase_id=0))])
            wait(lambda: len(inbox.select(statuses=[Status.HANDLED], topic=topic)) == 1, 240)
            to_materialized, to_handled = [], []
            for i in range(1, args.events + 1):
                before = len(instance.fetch_materializations(ATTENDANCE, limit=100).records)
                start = time.monotonic()
                kafka.produce(topic, [json.dumps(review_end_event(phase_id=i))])
                done = wait(
                    lambda b=before: len(instance.fetch_materializations(ATTENDANCE, limit=100).records) > b
                )
                to_materialized.append(done - start)
                handled = wait(lambda n=i + 1: len(inbox.select(statuses=[Status.HANDLED], topic=topic)) == n)
                to_handled.append(handled - start)
        finally:
            stop_process(daemon.pid, timeout=20)
    print(f"events                        {args.events}")
    print(
        f"publish -> materialized   median {statistics.median(to_materialized):5.1f} s   "
        f"max {max(to_materialized):5.1f} s"
    )
    handled_median = statistics.median(to_handled)
    print(f"publish -> inbox HANDLED  median {handled_median:5.1f} s   max {max(to_handled):5.1f} s")


if __name__ == "__main__":
    main()
