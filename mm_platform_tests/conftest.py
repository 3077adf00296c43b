"""Real components for the suite: a Tansu broker, a moto server and a PostgreSQL server.

PostgreSQL: MM_PLATFORM_TEST_PG_URL when given, else the server on 127.0.0.1:5432, else a throwaway
cluster started from the installed binaries. Under CI=true a missing PostgreSQL fails the session.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mm_platform.core.devstack import free_port, start_moto, start_tansu, stop_process
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import dispose_engine

# The tests that bring up a whole stack with a daemon run one after another on one pytest-xdist worker
# while the other workers take the rest: side by side on two cores they pushed the load to 20 and
# starved each other's runs into their timeouts. (xdist's own `xdist_group` marks are lost under
# pytest 9: xdist 3.8 renames `item._nodeid`, which pytest 9 no longer reads.)
WHOLE_STACK_MODULES = frozenset(
    {
        "mm_platform_tests/test_soak.py",
        "mm_platform_tests/test_dev_command.py",
        "mm_platform_tests/test_daemon_e2e.py",
        "mm_platform_tests/test_production_mode.py",
        "mm_platform_tests/scoring/test_scoring_daemon.py",
    }
)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadGroupScheduling

    class WholeStacksInTurn(LoadGroupScheduling):
        """Each test is a unit of its own, but the whole-stack modules are one unit, dealt out first
        (xdist deals the units with the most tests first)."""

        def _split_scope(self, nodeid: str) -> str:
            return "whole_stack" if nodeid.split("::", 1)[0] in WHOLE_STACK_MODULES else nodeid

    return WholeStacksInTurn(config, log)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def kafka_bootstrap(logs_dir: Path) -> Iterator[str]:
    port = free_port()
    process = start_tansu("127.0.0.1", port, logs_dir / "tansu.log", storage_endpoint=None)
    yield f"127.0.0.1:{port}"
    stop_process(process.pid)


@pytest.fixture(scope="session")
def kafka(kafka_bootstrap: str) -> KafkaResource:
    return KafkaResource(bootstrap_servers=kafka_bootstrap, request_timeout_seconds=5)


@pytest.fixture
def topic(kafka: KafkaResource) -> str:
    name = f"test.{uuid.uuid4().hex[:10]}"
    kafka.create_topics({name: 3})
    return name


@pytest.fixture(scope="session")
def moto_endpoint(logs_dir: Path) -> Iterator[str]:
    port = free_port()
    process = start_moto("127.0.0.1", port, logs_dir / "moto.log")
    yield f"http://127.0.0.1:{port}"
    stop_process(process.pid)


def _answers(url: str) -> bool:
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def _throwaway_cluster(root: Path) -> tuple[str, subprocess.Popen | None]:
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        return "", None
    bin_dir = Path(binaries[-1]).parent
    data = root / "pgdata"
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres")
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [
            *as_postgres,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    for _ in range(100):
        if _answers(url):
            return url, process
        subprocess.run(["sleep", "0.1"])
    raise RuntimeError("the throwaway PostgreSQL cluster did not start")


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL to a PostgreSQL database on a server where the suite may create databases."""
    given = os.environ.get("MM_PLATFORM_TEST_PG_URL")
    if given:
        yield given
        return
    local = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    if _answers(local):
        yield local
        return
    root = Path(tempfile.mkdtemp(prefix="mm-platform-pg-"))
    url, process = _throwaway_cluster(root)
    if not url:
        message = "no PostgreSQL: set MM_PLATFORM_TEST_PG_URL or install Debian's postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield url
    if process is not None:
        stop_process(process.pid)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases, all dropped after the test."""
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make() -> str:
        name = f"mm_platform_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)

    yield make
    for name in created:
        dispose_engine(make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False))
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_database: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of fresh databases: SQLite files in one run of the test, PostgreSQL in the other."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_database")
        return
    made: list[str] = []

    def make() -> str:
        made.append(f"sqlite:///{tmp_path / f'test{len(made)}.db'}")
        return made[-1]

    yield make
    for url in made:
        dispose_engine(url)


@pytest.fixture
def db_url(database: Callable[[], str]) -> str:
    """The same test on a SQLite file and on a PostgreSQL database."""
    return database()


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class RecordingServer:
    """A real local HTTP server standing in for another team's service: it records every request
    and answers with `status` and `response` (both changeable by the test)."""

    url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    status: int = 200
    response: Any = field(default_factory=lambda: {"status": "success"})
    # when set, answers each request: (status, JSON body)
    responder: Callable[[RecordedRequest], tuple[int, Any]] | None = None


@pytest.fixture
def http_service() -> Iterator[RecordingServer]:
    server_state = RecordingServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            request = RecordedRequest(self.command, self.path, dict(self.headers), body)
            server_state.requests.append(request)
            status, answer = (
                server_state.responder(request)
                if server_state.responder
                else (server_state.status, server_state.response)
            )
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_HEAD = _handle

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server_state
    server.shutdown()
    server.server_close()
