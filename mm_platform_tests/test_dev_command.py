"""`mm-platform dev` (what `make dev` runs): the stack and the UI come up, the sample event gets
its round materialized, and a stop signal takes down everything the command started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mm_platform.core.devstack import free_port, port_open
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.marathon.sample_data import SAMPLE_ROUND_ID, review_end_event

REPO = Path(__file__).resolve().parents[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


def test_dev_serves_the_ui_runs_the_slice_and_stops_everything(tmp_path: Path) -> None:
    kafka_port, moto_port, ui_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "MM_PLATFORM_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    }
    env.pop("DAGSTER_HOME", None)
    log = tmp_path / "dev.log"
    dev = subprocess.Popen(
        [str(Path(sys.executable).with_name("mm-platform")), "dev", "--port", str(ui_port)],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not port_open("127.0.0.1", ui_port):
            assert dev.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the UI did not come up:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        assets = graphql(ui_port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert ["marathon", "long_comp_result_attendance"] in [a["assetKey"]["path"] for a in assets]

        KafkaResource(bootstrap_servers=f"127.0.0.1:{kafka_port}").produce(
            "notifications.autopilot.events", [json.dumps(review_end_event())]
        )
        inbox = EventInbox(engine_for(f"sqlite:///{tmp_path / 'state' / 'platform.db'}"))
        inbox.create_schema()
        while not inbox.select(statuses=[Status.HANDLED]):
            assert time.monotonic() < deadline + 60, "no HANDLED event:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        query = '{ assetOrError(assetKey: {path: ["marathon", "long_comp_result_attendance"]}) '
        query += "{ ... on Asset { assetMaterializations(limit: 1) { partition } } } }"
        [materialization] = graphql(ui_port, query)["assetOrError"]["assetMaterializations"]
        assert materialization["partition"] == str(SAMPLE_ROUND_ID)
    finally:
        os.kill(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            pytest.fail("mm-platform dev did not stop within 60 s")
    for port in (ui_port, kafka_port, moto_port):
        assert not port_open("127.0.0.1", port), (
            f"port {port} still open after stop:\n{log.read_text()[-2000:]}"
        )
    assert "stopping Dagster" in log.read_text()
