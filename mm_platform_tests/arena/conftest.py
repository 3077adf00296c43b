"""Fixtures of the Arena scenario tests: the flow on PostgreSQL (as the issue asks) with the broker of
the session and a lookups stand-in of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import instance_for_test

from mm_platform.core.kafka import KafkaResource
from mm_platform_tests.arena.flow import ArenaFlow, lookups_standin


@pytest.fixture
def flow(kafka: KafkaResource, pg_url: str, tmp_path: Path) -> Iterator[ArenaFlow]:
    with lookups_standin(tmp_path) as url, instance_for_test() as instance:
        yield ArenaFlow(kafka, pg_url, url, instance)


@pytest.fixture
def any_flow(kafka: KafkaResource, db_url: str, tmp_path: Path) -> Iterator[ArenaFlow]:
    """The flow on SQLite and on PostgreSQL (the `database` fixture's parameters)."""
    with lookups_standin(tmp_path) as url, instance_for_test() as instance:
        yield ArenaFlow(kafka, db_url, url, instance)
