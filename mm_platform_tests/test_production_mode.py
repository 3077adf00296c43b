"""Production mode end to end, started as the image starts it: `MM_PLATFORM_ENV=production`, the
unchanged `deploy/dagster.yaml` (run, event-log and schedule storage on PostgreSQL), every application
database on PostgreSQL, `mm-platform db upgrade` first (production never creates its tables), the
code server as the Dockerfile's CMD on a free port, and `dagster-daemon run` with a workspace that
points at that gRPC server, as the Kubernetes and ECS daemons do.

A review-END event flows to member stats in DynamoDB and a HANDLED inbox event; a Verified Fan scored
file flows to the campaign's counts and one Slack report. What production expects to exist already
(other teams' OLTP rows, the S3 bucket, the DynamoDB tables) is made here, as infrastructure would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from dagster import AssetKey, DagsterInstance
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from mm_platform.core.devstack import free_port, stop_process
from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, load_sample_data, review_end_event
from mm_platform.marathon.stores import schema as oltp
from mm_platform.marathon.stores.stats_store import ensure_table
from mm_platform.verified_fan.rules.scoring import Counts
from mm_platform.verified_fan.stores.demand_store import DemandTable
from mm_platform_tests.conftest import RecordingServer
from mm_platform_tests.verified_fan.conftest import TOUR, Services

REPO = Path(__file__).resolve().parents[1]
MEMBER_STATS = AssetKey(["marathon", "member_stats"])
TIMEOUT = 180
AWS = {"region_name": "us-east-1", "aws_access_key_id": "production", "aws_secret_access_key": "production"}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self) -> str:
        return f"--- {self.name} ({self.log.name}) ---\n{self.log.read_text(errors='replace')[-4000:]}"


@dataclass
class Stack:
    env: dict[str, str]
    home: Path
    platform_db: str
    oltp_db: str
    processes: list[Process]

    def wait_for(self, what: str, condition: Callable[[], object], timeout: float = TIMEOUT) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            for process in self.processes:
                if process.popen.poll() is not None:
                    pytest.fail(
                        f"{process.name} exited ({process.popen.returncode}) while waiting for {what}:\n"
                        + "\n".join(p.tail() for p in self.processes)
                    )
            time.sleep(0.25)
        pytest.fail(
            f"timed out after {timeout}s waiting for {what}:\n" + "\n".join(p.tail() for p in self.processes)
        )


def start(name: str, command: list[str], env: dict[str, str], cwd: Path) -> Process:
    log = cwd / f"{name}.log"
    popen = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )
    return Process(name, popen, log)


def production_env(
    tmp_path: Path,
    dagster_db: str,
    databases: dict[str, str],
    kafka: KafkaResource,
    topic: str,
    moto: str,
    services: str,
) -> dict[str, str]:
    """The process environment of every component: what deploy/k8s/env.yaml and the Secrets give a
    pod, with local endpoints. Nothing of the test runner's MM_PLATFORM_*/DAGSTER_*/PG* leaks in."""
    suffix = topic.rsplit(".", 1)[-1]
    pg = make_url(dagster_db)
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("MM_PLATFORM_", "DAGSTER_", "PG", "AWS_"))
    }
    return {
        **inherited,
        # this worktree's code first, whatever the venv's editable install points at
        "PYTHONPATH": os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "DAGSTER_PG_HOST": pg.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(pg.port or 5432),
        "DAGSTER_PG_DB": pg.database or "",
        "DAGSTER_PG_USER": pg.username or "postgres",
        "DAGSTER_PG_PASSWORD": pg.password or "",
        # the deployments say require; the local server has no TLS
        "PGSSLMODE": "disable",
        # production's default credential chain, here from the environment (moto accepts any)
        "AWS_ACCESS_KEY_ID": AWS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": AWS["aws_secret_access_key"],
        "AWS_EC2_METADATA_DISABLED": "true",
        "MM_PLATFORM_ENV": "production",
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MM_PLATFORM_TOPIC_AUTOPILOT": topic,
        "MM_PLATFORM_AWS_REGION": AWS["region_name"],
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto,
        "MM_PLATFORM_OLTP_DB_URL": databases["oltp"],
        "MM_PLATFORM_DW_DB_URL": databases["dw"],
        "MM_PLATFORM_PLATFORM_DB_URL": databases["platform"],
        "MM_PLATFORM_SENSOR_INTERVAL_SECONDS": "1",
        "MM_PLATFORM_MEMBER_STATS_TABLE": f"member-stats-{suffix}",
        "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member-history-{suffix}",
        "MM_PLATFORM_VF_SCORING_BUCKET": f"vf-scoring-{suffix}",
        "MM_PLATFORM_VF_DEMAND_TABLE": f"vf-demand-{suffix}",
        "MM_PLATFORM_VF_ENTRY_SERVICE_URL": services,
        "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": services,
        "MM_PLATFORM_SLACK_BASE_URL": f"{services}/api/",
        "MM_PLATFORM_SLACK_TOKEN": "xoxb-production-mode",
        "MM_PLATFORM_SCORING_SUBMISSION_API_URL": services,
        "MM_PLATFORM_ARENA_MULIGHETSROMMET_URL": services,
        "MM_PLATFORM_ARENA_ORDS_URL": services,
        "MM_PLATFORM_ARENA_AMT_TILTAK_URL": services,
    }


def image_command(port: int) -> list[str]:
    """The Dockerfile's CMD, listening on 127.0.0.1:`port`, with this interpreter's `dagster`."""
    [line] = [line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    command = json.loads(line.removeprefix("CMD "))
    assert command[:3] == ["dagster", "code-server", "start"], command
    command[command.index("-h") + 1] = "127.0.0.1"
    command[command.index("-p") + 1] = str(port)
    return [sys.executable, "-m", *command]


def code_server_ready(port: int) -> bool:
    from dagster._grpc.client import DagsterGrpcClient

    try:
        # answers once the definitions have loaded (what the daemon asks first)
        DagsterGrpcClient(port=port, host="127.0.0.1").list_repositories()
        return True
    except Exception:
        return False


@pytest.fixture
def stack(
    pg_database: Callable[[], str],
    kafka: KafkaResource,
    topic: str,
    moto_endpoint: str,
    http_service: RecordingServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    dagster_db = pg_database()
    databases = {name: pg_database() for name in ("platform", "oltp", "dw")}
    env = production_env(tmp_path, dagster_db, databases, kafka, topic, moto_endpoint, http_service.url)
    home = Path(env["DAGSTER_HOME"])
    home.mkdir()
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")  # unchanged
    for name in (
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_DB",
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
    ):
        monkeypatch.setenv(name, env[name])  # the test reads the same instance
    monkeypatch.setenv("PGSSLMODE", "disable")

    # what production finds in place: other teams' OLTP rows, the bucket, the DynamoDB tables
    load_sample_data(databases["oltp"])
    boto3.client("s3", endpoint_url=moto_endpoint, **AWS).create_bucket(
        Bucket=env["MM_PLATFORM_VF_SCORING_BUCKET"]
    )
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, **AWS)
    for table in ("MM_PLATFORM_MEMBER_STATS_TABLE", "MM_PLATFORM_MEMBER_HISTORY_TABLE"):
        ensure_table(dynamodb, env[table])
    DemandTable(dynamodb, env["MM_PLATFORM_VF_DEMAND_TABLE"]).ensure()

    # the release step before the code location starts (the init container / the one-off ECS task)
    upgrade = subprocess.run(
        [sys.executable, "-m", "mm_platform.cli", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr

    port = free_port()
    processes: list[Process] = []
    made = Stack(env, home, databases["platform"], databases["oltp"], processes)
    try:
        # the Dockerfile's CMD, on a free port
        processes.append(start("code-server", image_command(port), env, tmp_path))
        made.wait_for("the code server to load the definitions", lambda: code_server_ready(port))
        # the daemon's workspace as in deploy/k8s/instance/workspace.yaml, pointing at that server
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(
            yaml.safe_dump(
                {
                    "load_from": [
                        {"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": "mm_platform"}}
                    ]
                }
            )
        )
        processes.append(
            start(
                "daemon",
                [sys.executable, "-m", "dagster._daemon", "run", "-w", str(workspace)],
                env,
                tmp_path,
            )
        )
        yield made
    finally:
        # killed, with their process groups (run workers included): what they did is checked already,
        # and a graceful stop costs seconds of the suite
        for process in processes:
            stop_process(process.popen.pid, timeout=10, how=signal.SIGKILL)


def test_a_review_end_event_and_a_scored_file_flow_through_in_production_mode(
    stack: Stack, kafka: KafkaResource, topic: str, moto_endpoint: str, http_service: RecordingServer
) -> None:
    services = Services(http_service)
    http_service.responder = services.answer
    env = stack.env
    instance = DagsterInstance.from_config(str(stack.home))
    inbox = EventInbox(engine_for(stack.platform_db))
    dynamodb = boto3.resource("dynamodb", endpoint_url=moto_endpoint, **AWS)
    stats_table = dynamodb.Table(env["MM_PLATFORM_MEMBER_STATS_TABLE"])
    try:
        assert instance.run_storage.__class__.__name__ == "PostgresRunStorage"
        assert instance.event_log_storage.__class__.__name__ == "PostgresEventLogStorage"
        assert instance.schedule_storage.__class__.__name__ == "PostgresScheduleStorage"

        # both flows at once, as production takes them: a review-END event (-> the round's run ->
        # member stats, the event HANDLED) and a Verified Fan scored file (-> intake run -> campaign
        # run -> counts and one Slack report)
        kafka.produce(topic, [json.dumps(review_end_event())])
        boto3.client("s3", endpoint_url=moto_endpoint, **AWS).put_object(
            Bucket=env["MM_PLATFORM_VF_SCORING_BUCKET"], Key="scrubbed/tour-2027.csv", Body=TOUR
        )

        # --- Marathon

        def stats_materialization():
            records = instance.fetch_materializations(MEMBER_STATS, limit=1).records
            return records[0] if records else None

        record = stack.wait_for("member stats to be materialized", stats_materialization)
        stack.wait_for(
            "the event to be HANDLED",
            lambda: len(inbox.select(statuses=[Status.HANDLED], topic=topic)) == 1,
        )
        assert record.partition_key == str(SAMPLE_ROUND_ID)
        with engine_for(stack.oltp_db).connect() as conn:
            lcr = oltp.long_comp_result
            members = conn.execute(
                select(func.count()).select_from(lcr).where(lcr.c.round_id == SAMPLE_ROUND_ID)
            ).scalar_one()
        metadata = record.asset_materialization.metadata
        assert metadata["members"].value == members > 0
        assert metadata["items_written"].value == members
        items = stats_table.scan()["Items"]
        assert len(items) == members
        assert {i["updatedBy"] for i in items} == {"mm_platform"}
        assert all(json.loads(i["DATA_SCIENCE"])["MARATHON_MATCH"]["challenges"] >= 0 for i in items)
        [event] = inbox.select(topic=topic)
        assert event.status == Status.HANDLED

        # --- Verified Fan
        [message] = stack.wait_for("the Slack report", lambda: services.slack)
        assert message["channel"] == "#vf-scoring"
        # TOUR's rows for c1: m1 verified+selected, m2 rejected, m3 verified+selected (its higher
        # score wins), g5 verified; m4 (score) and m7 (email) refused, one row without a campaign
        assert (
            message["text"] == "Verified Fan scoring for Tour 2027 (c1): 3 verified, 1 rejected, 2 selected"
        )
        demand = DemandTable(
            boto3.client("dynamodb", endpoint_url=moto_endpoint, **AWS), env["MM_PLATFORM_VF_DEMAND_TABLE"]
        )
        assert demand.counts("c1") == Counts(3, 1, 2) == demand.recount("c1")
        [scoring] = services.calls("/scoring")
        assert sorted(r["memberId"] for r in scoring.body["records"]) == ["g5", "m1", "m3"]
        # the token reached Slack from the environment, as the Secret gives it
        [posted] = services.calls("/api/chat.postMessage")
        assert posted.headers.get("Authorization") == "Bearer xoxb-production-mode"

        # production writes no local state: no SQLite file, no state folder next to the processes
        assert not (stack.home.parent / ".mm_platform").exists()
        assert not list(stack.home.parent.rglob("*.db"))
    finally:
        instance.dispose()
