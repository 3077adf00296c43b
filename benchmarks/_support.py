"""Shared set-up for the benchmark scripts: a throwaway Tansu broker unless one is given."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
