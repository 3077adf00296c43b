"""A password in a database URL (or any secret setting) reaches no UI, log, run tag, metadata or
command output: resources get it as an EnvVar, which Dagster resolves only inside a run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from dagster import EnvVar, instance_for_test
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.serdes import serialize_value
from sqlalchemy.engine import make_url

from mm_platform.cli import main
from mm_platform.core.devstack import free_port
from mm_platform.core.secrets import bound_url, redacted
from mm_platform.core.services import RatingsService, ServiceError
from mm_platform.definitions import build_definitions
from mm_platform.domains import load_settings
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, load_sample_data

PLANTED = "pl4nted-s3cret"


def with_password(url: str) -> str:
    # the test server trusts local connections: any password connects, and this one must not show
    return make_url(url).set(password=PLANTED).render_as_string(hide_password=False)


@pytest.fixture
def secret_env(
    pg_database: Callable[[], str], moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_OLTP_DB_URL": with_password(pg_database()),
        "MM_PLATFORM_DW_DB_URL": with_password(pg_database()),
        "MM_PLATFORM_PLATFORM_DB_URL": with_password(pg_database()),
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,
        "MM_PLATFORM_MEMBER_STATS_TABLE": f"member_stats_{uuid.uuid4().hex[:8]}",
        "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member_history_{uuid.uuid4().hex[:8]}",
        "MM_PLATFORM_SEARCH_PASSWORD": PLANTED,
        "MM_PLATFORM_KAFKA_SASL_PASSWORD": PLANTED,
        "MM_PLATFORM_RATINGS_SERVICE_TOKEN": PLANTED,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # EnvVars resolve from the process environment
    return env


def test_a_planted_password_shows_nowhere(secret_env: dict[str, str]) -> None:
    settings = load_settings(secret_env)
    assert PLANTED not in repr(settings)
    defs = build_definitions(settings)
    with instance_for_test() as instance:
        repository = defs.get_repository_def()
        # what the UI shows: assets, jobs, sensors, resources and their configuration
        snapshot = serialize_value(RepositorySnap.from_def(repository))
        assert "MM_PLATFORM_OLTP_DB_URL" in snapshot  # bound by name ...
        assert PLANTED not in snapshot  # ... never by value

        load_sample_data(secret_env["MM_PLATFORM_OLTP_DB_URL"])
        job = defs.resolve_job_def("marathon_round_job")
        instance.add_dynamic_partitions("marathon_round", [str(SAMPLE_ROUND_ID)])
        result = job.execute_in_process(instance=instance, partition_key=str(SAMPLE_ROUND_ID))
        assert result.success  # the databases were reached with the URLs' passwords
        run = instance.get_run_by_id(result.run_id)
        assert PLANTED not in serialize_value(run.tags) + serialize_value(run.run_config)
        events = instance.all_logs(result.run_id)
        assert events and all(PLANTED not in serialize_value(e) for e in events)

    runner = CliRunner()
    for command in (
        ["inbox"],
        ["stack", "status"],
        ["trace", "20000000"],
        ["vf", "files"],
        ["demo", "--help"],
    ):
        output = runner.invoke(main, command, env=secret_env).output
        assert PLANTED not in output, command


def test_urls_with_credentials_are_bound_by_name_and_shown_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql+psycopg2://app:{PLANTED}@db:5432/platform"
    monkeypatch.setenv("MM_PLATFORM_PLATFORM_DB_URL", url)
    assert bound_url(url, "MM_PLATFORM_PLATFORM_DB_URL") == EnvVar("MM_PLATFORM_PLATFORM_DB_URL")
    assert (
        bound_url("sqlite:///state/platform.db", "MM_PLATFORM_PLATFORM_DB_URL")
        == "sqlite:///state/platform.db"
    )
    with pytest.raises(ValueError, match="must come from"):
        bound_url(url, "MM_PLATFORM_OLTP_DB_URL")  # a secret written into code or another variable
    assert redacted(url) == "postgresql+psycopg2://app:***@db:5432/platform"
    assert redacted(f"https://elastic:{PLANTED}@search:9200") == "https://***@search:9200"
    assert redacted("https://search:9200") == "https://search:9200"
    assert (
        redacted("postgresql+psycopg2://postgres@db/platform") == "postgresql+psycopg2://postgres@db/platform"
    )


def test_service_errors_name_the_url_without_its_credentials() -> None:
    service = RatingsService(base_url=f"http://user:{PLANTED}@127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(ServiceError) as failure:
        service.calculate(1)
    assert PLANTED not in str(failure.value) and "***@127.0.0.1" in str(failure.value)
