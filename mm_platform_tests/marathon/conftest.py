"""The `chain` fixture: a marathon round's chain on fresh databases (SQLite and PostgreSQL) and moto."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import instance_for_test

from mm_platform.core.settings import Settings
from mm_platform.definitions import build_definitions
from mm_platform.marathon.dev.sample_data import load_sample_data
from mm_platform_tests.marathon.chain import Chain


@pytest.fixture
def chain(database: Callable[[], str], moto_endpoint: str, tmp_path: Path) -> Iterator[Chain]:
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
            "MM_PLATFORM_OLTP_DB_URL": database(),
            "MM_PLATFORM_DW_DB_URL": database(),
            "MM_PLATFORM_PLATFORM_DB_URL": database(),
            "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
            "MM_PLATFORM_MEMBER_STATS_TABLE": f"member_stats_{uuid.uuid4().hex[:8]}",
            "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member_history_{uuid.uuid4().hex[:8]}",
        }
    )
    load_sample_data(settings.oltp_db_url)
    with instance_for_test() as instance:
        yield Chain(settings, build_definitions(settings), instance, moto_endpoint)
