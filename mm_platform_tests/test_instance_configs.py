"""Both Dagster instance configs are valid, and the production one really stores in PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance
from dagster._core.instance.config import dagster_instance_config
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]


def test_local_instance_config_is_valid(tmp_path: Path) -> None:
    shutil.copyfile(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_retries"] == {"enabled": True, "max_retries": 2}
    assert config["telemetry"] == {"enabled": False}
    instance = DagsterInstance.from_config(str(tmp_path))
    assert instance.run_coordinator.__class__.__name__ == "QueuedRunCoordinator"
    instance.dispose()


def test_production_instance_uses_postgres(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_url(pg_url)
    shutil.copyfile(REPO / "deploy" / "dagster.yaml", tmp_path / "dagster.yaml")
    # the deployments set PGSSLMODE=require; the local server has no TLS
    monkeypatch.setenv("PGSSLMODE", "disable")
    monkeypatch.setenv("DAGSTER_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", url.database or "")
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "")
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert instance.run_storage.__class__.__name__ == "PostgresRunStorage"
        assert instance.event_log_storage.__class__.__name__ == "PostgresEventLogStorage"
        assert instance.get_runs() == []  # the tables were created and answer
    finally:
        instance.dispose()
