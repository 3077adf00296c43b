"""Shared set-up for the benchmark scripts: a throwaway Tansu broker unless one is given, a real
`dagster-daemon` on the repository's workspace, and waiting for a result."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mm_platform.core.devstack import free_port, start_tansu, stop_process


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS if set, else a fresh in-memory Tansu on a free port."""
    given = os.environ.get("MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS")
    if given:
        yield given
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        process = start_tansu("127.0.0.1", port, Path(tmp) / "tansu.log", storage_endpoint=None)
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stop_process(process.pid)


REPO = Path(__file__).resolve().parents[1]


def start_daemon(env: dict[str, str]) -> subprocess.Popen:
    """`dagster-daemon run` on workspace.yaml with `env` (DAGSTER_HOME and MM_PLATFORM_* settings)."""
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait(condition: Callable[[], Any], timeout: float = 240, poll: float = 0.05) -> Any:
    """The first truthy value of `condition()`; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError("no result within the timeout")
