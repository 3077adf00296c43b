"""`mm-platform dev` (what `make dev` runs): the stack and the UI come up, the sample event gets
its round materialized, the sample campaign file in the bucket becomes demand items, entry scoring,
counts and exactly one Slack message (uploading it again: none), `mm-platform demo --domain
verified-fan` and `mm-platform demo --domain arena` succeed, and a stop signal takes down everything the
command started."""

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

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.devstack import free_port, port_open
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.settings import Settings
from mm_platform.core.slack import SlackNotifier
from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, review_end_event
from mm_platform.verified_fan.dev.sample_data import SAMPLE_CAMPAIGN, SAMPLE_KEY, sample_file
from mm_platform.verified_fan.rules.records import rows
from mm_platform.verified_fan.rules.scoring import SCRUBBED, read_csv, validate
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.resources import demand_table_of
from mm_platform.verified_fan.stores.services import EntryService

REPO = Path(__file__).resolve().parents[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


@pytest.mark.timeout(900)  # a whole stack and three domains' runs: minutes on a busy machine
def test_dev_serves_the_ui_runs_the_slice_and_stops_everything(tmp_path: Path) -> None:
    kafka_port, moto_port, ui_port, standins_port = free_port(), free_port(), free_port(), free_port()
    arena_port = free_port()  # the Arena lookups stand-in, never a developer's stack's
    submission_api_port = free_port()  # the scoring stand-in, likewise
    env = {
        **os.environ,
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
        "MM_PLATFORM_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "MM_PLATFORM_VF_ENTRY_SERVICE_URL": f"http://127.0.0.1:{standins_port}",
        "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": f"http://127.0.0.1:{standins_port}",
        **{
            f"MM_PLATFORM_ARENA_{name}_URL": f"http://127.0.0.1:{arena_port}"
            for name in ("MULIGHETSROMMET", "ORDS", "AMT_TILTAK")
        },
        "MM_PLATFORM_SCORING_SUBMISSION_API_URL": f"http://127.0.0.1:{submission_api_port}",
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
    arena: subprocess.Popen | None = None
    try:
        # bounds, not sleeps: generous, because CI runs this beside two other whole stacks on two cores
        deadline = time.monotonic() + 180
        while not port_open("127.0.0.1", ui_port):
            assert dev.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the UI did not come up:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        assets = graphql(ui_port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        assert ["marathon", "long_comp_result_attendance"] in [a["assetKey"]["path"] for a in assets]

        # the Arena demo touches nothing the marathon and Verified Fan checks below look at: it runs
        # alongside them, and the test waits on the daemon's ticks once, not once per domain
        arena_log, mm_platform = (
            tmp_path / "arena-demo.log",
            str(Path(sys.executable).with_name("mm-platform")),
        )
        with arena_log.open("wb") as out:
            arena = subprocess.Popen(
                [mm_platform, "demo", "--domain", "arena", "--timeout", "300"],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        KafkaResource(bootstrap_servers=f"127.0.0.1:{kafka_port}").produce(
            "notifications.autopilot.events", [json.dumps(review_end_event())]
        )
        inbox = EventInbox(engine_for(f"sqlite:///{tmp_path / 'state' / 'platform.db'}"))
        inbox.create_schema()
        while not inbox.select(statuses=[Status.HANDLED], topic="notifications.autopilot.events"):
            assert time.monotonic() < deadline + 180, "no HANDLED event:\n" + log.read_text()[-3000:]
            time.sleep(0.5)
        query = '{ assetOrError(assetKey: {path: ["marathon", "long_comp_result_attendance"]}) '
        query += "{ ... on Asset { assetMaterializations(limit: 1) { partition } } } }"
        [materialization] = graphql(ui_port, query)["assetOrError"]["assetMaterializations"]
        assert materialization["partition"] == str(SAMPLE_ROUND_ID)

        check_the_sample_campaign(Settings.from_env(env), ui_port, log, deadline + 360)

        demo = subprocess.run(
            [
                str(Path(sys.executable).with_name("mm-platform")),
                "demo",
                "--domain",
                "verified-fan",
                "--rows",
                "300",
                "--timeout",
                "300",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=420,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr + log.read_text()[-3000:]
        assert (
            "equal" in demo.stdout and "Slack #vf-scoring: Verified Fan scoring for Demo Tour" in demo.stdout
        )
        assert "processed again: report unchanged" in demo.stdout

        arena.wait(timeout=max(30.0, deadline + 480 - time.monotonic()))
        arena_out = arena_log.read_text()
        assert arena.returncode == 0, arena_out + log.read_text()[-3000:]
        assert "every ledger status and output message equal to the expected ones" in arena_out
    finally:
        if arena is not None and arena.poll() is None:
            arena.kill()
        # what the README tells a user whose `make dev` runs in the background
        down = subprocess.run(
            [str(Path(sys.executable).with_name("mm-platform")), "stack", "down"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            dev.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            pytest.fail("mm-platform dev did not stop within 60 s of `stack down`")
    assert "dagster" in down.stdout, down.stdout + down.stderr
    for port in (ui_port, kafka_port, moto_port, standins_port, arena_port, submission_api_port):
        assert not port_open("127.0.0.1", port), (
            f"port {port} still open after stop:\n{log.read_text()[-2000:]}"
        )
    terminal = log.read_text()
    # the terminal tells what a user needs; Dagster's INFO lines go to the state folder's log
    assert f"http://127.0.0.1:{ui_port}" in terminal
    assert "HANDLED  notifications.autopilot.events project-30373282 -> partition 990101" in terminal
    assert " - INFO - " not in terminal, terminal[-3000:]
    assert " - INFO - " in (tmp_path / "state" / "logs" / "dagster.log").read_text()
    assert "BetaWarning" not in terminal


def verdict_outcomes(ui_port: int) -> list[str]:
    query = '{ assetOrError(assetKey: {path: ["verified_fan", "verdict_report"]}) '
    query += "{ ... on Asset { assetMaterializations(limit: 10) { partition metadataEntries "
    query += "{ label ... on TextMetadataEntry { text } } } } } }"
    found = graphql(ui_port, query)["assetOrError"]
    return [
        entry["text"]
        for m in (found or {}).get("assetMaterializations", [])
        for entry in m["metadataEntries"]
        if entry["label"] == "outcome" and m["partition"] == SAMPLE_CAMPAIGN["id"]
    ]


def check_the_sample_campaign(settings: Settings, ui_port: int, log: Path, deadline: float) -> None:
    """No manual step: the sample file the stack uploaded is scored, counted and reported once."""

    def wait_for(what: str, condition) -> None:
        while not condition():
            assert time.monotonic() < deadline, f"no {what}:\n" + log.read_text()[-3000:]
            time.sleep(0.5)

    campaign = SAMPLE_CAMPAIGN["id"]
    slack = SlackNotifier(outbox_db_url=settings.platform_db_url)
    wait_for("Slack message", lambda: verdict_outcomes(ui_port) == ["posted"])
    [message] = slack.outbox()
    vf, aws = settings.section(VerifiedFanSettings), build_aws_resources(settings)
    demand = demand_table_of(settings)
    counts = demand.counts(campaign)
    assert counts == demand.recount(campaign)
    assert message["text"] == (
        f"Verified Fan scoring for {SAMPLE_CAMPAIGN['name']} ({campaign}): {counts.verified:,} verified, "
        f"{counts.rejected:,} rejected, {counts.selected:,} selected"
    )
    entries = EntryService(base_url=vf.entry_service_url).get_json(f"/scoring/{campaign}")["entries"]
    rank0 = sum(1 for r in rows(validate(read_csv(sample_file()), SCRUBBED).valid) if r["rank0_event"])
    assert entries == rank0 > 0

    # the same file uploaded again: processed, nothing changes, no second message
    time.sleep(1.1)  # S3 timestamps have one-second resolution
    aws["s3"].get_client().put_object(Bucket=vf.scoring_bucket, Key=SAMPLE_KEY, Body=sample_file())
    wait_for("second report", lambda: verdict_outcomes(ui_port) == ["unchanged", "posted"])
    assert len(slack.outbox()) == 1
    assert demand.counts(campaign) == counts
