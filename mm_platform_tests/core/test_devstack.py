"""The embedded stack on free ports: it starts, prepares topics and sample data, keeps the broker's
log in moto's S3 so a broker restart loses nothing, and stops what it started."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from mm_platform.core.devstack import Stack, free_port, port_open, start_tansu, stop_process
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.marathon.sample_data import SAMPLE_CODERS, SAMPLE_ROUND_ID
from mm_platform.marathon.schema import long_comp_result


def test_stack_up_prepares_everything_and_down_stops_it(tmp_path: Path, moto_endpoint: str) -> None:
    kafka_port = free_port()
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,  # already running: reused, not started
        }
    )
    stack = Stack(settings)
    started = stack.up()
    try:
        assert set(started) == {"tansu"}
        assert stack.status() == {"kafka": True, "aws": True}
        kafka = KafkaResource(bootstrap_servers=settings.kafka_bootstrap_servers)
        assert kafka.partitions("notifications.autopilot.events") == [0, 1, 2]
        with engine_for(settings.oltp_db_url).connect() as conn:
            rows = conn.execute(
                select(func.count())
                .select_from(long_comp_result)
                .where(long_comp_result.c.round_id == SAMPLE_ROUND_ID)
            ).scalar_one()
        assert rows == SAMPLE_CODERS - 2 - 3  # no row for two final submitters and three non-submitters
        assert (settings.dagster_home / "dagster.yaml").exists()
        assert stack.up() == {}  # idempotent: nothing started twice, sample data not duplicated

        # the broker keeps its log in S3: a restart loses no message
        kafka.produce("notifications.autopilot.events", [json.dumps({"n": i}) for i in range(5)], key="k")
        stop_process(started["tansu"])
        assert not port_open("127.0.0.1", kafka_port)
        restarted = start_tansu("127.0.0.1", kafka_port, tmp_path / "tansu.log", moto_endpoint)
        try:
            records, _ = kafka.consume_batch(["notifications.autopilot.events"], {}, 100, 10)
            assert sorted(json.loads(r.value)["n"] for r in records) == list(range(5))
        finally:
            stop_process(restarted.pid)
    finally:
        stack.down()
    assert not port_open("127.0.0.1", kafka_port)
    assert not stack.record.exists()
