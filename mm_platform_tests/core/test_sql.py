"""Schema creation on first use (issue 9, item 14): sensor threads of one process and other processes
may all create the platform tables at the same moment on a fresh database; every one succeeds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, inspect

from mm_platform.core.inbox import InboxResource, event_inbox, metadata
from mm_platform.core.sql import create_tables

THREADS = 8


def all_at_once(work: Callable[[], Any], n: int = THREADS) -> list[Any]:
    """Run `work` in `n` threads released together; returns the results (raises the first error)."""
    start = threading.Barrier(n)

    def run() -> Any:
        start.wait()
        return work()

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(run) for _ in range(n)]
        return [f.result() for f in futures]


def test_sensor_threads_using_a_fresh_inbox_at_once_all_succeed(db_url: str) -> None:
    # before the fix: "table event_inbox already exists" in some threads
    latest = all_at_once(lambda: InboxResource(database_url=db_url).get_inbox().latest_id())
    assert latest == [0] * THREADS
    assert event_inbox.name in inspect(create_engine(db_url)).get_table_names()


def test_processes_creating_the_schema_at_once_all_succeed(db_url: str) -> None:
    """Other processes do not share the lock: each thread here has an engine of its own and calls
    `create_tables` directly, so their CREATEs race as separate processes' would."""
    engines = [create_engine(db_url) for _ in range(THREADS)]
    unused = list(engines)
    try:
        all_at_once(lambda: create_tables(metadata, unused.pop()))
        assert event_inbox.name in inspect(create_engine(db_url)).get_table_names()
    finally:
        for engine in engines:
            engine.dispose()
