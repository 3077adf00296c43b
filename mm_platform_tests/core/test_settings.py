from __future__ import annotations

from pathlib import Path

import pytest

from mm_platform.core.settings import Settings, SettingsError
from mm_platform.domains import load_settings
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.verified_fan.settings import VerifiedFanSettings


def test_defaults_point_at_the_embedded_stack(tmp_path: Path) -> None:
    s = load_settings({"MM_PLATFORM_STATE_DIR": str(tmp_path)})
    assert s.embedded
    assert s.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert s.aws_endpoint_url == "http://127.0.0.1:4566"
    assert s.oltp_db_url == f"sqlite:///{tmp_path}/oltp.db"
    assert s.platform_db_url == f"sqlite:///{tmp_path}/platform.db"
    assert s.dagster_home == tmp_path / "dagster_home"
    assert s.section(MarathonSettings).topics.autopilot == "notifications.autopilot.events"
    vf = s.section(VerifiedFanSettings)
    assert (vf.scoring_bucket, vf.staging_bucket, vf.demand_table) == (
        "vf-scoring",
        "vf-scoring",
        "vf-demand",
    )
    assert (vf.scores_stream, vf.campaign_data_stream) == ("vf-scores", "vf-campaign-data")
    assert vf.entry_service_url == vf.campaign_service_url == "http://127.0.0.1:4580"  # the stand-ins


def test_production_requires_real_endpoints() -> None:
    with pytest.raises(SettingsError, match="MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS is required"):
        load_settings({"MM_PLATFORM_ENV": "production"})
    s = load_settings(
        {
            "MM_PLATFORM_ENV": "production",
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "b-1.msk:9096",
            "MM_PLATFORM_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "MM_PLATFORM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "MM_PLATFORM_OLTP_DB_URL": "postgresql+psycopg2://u@oltp/db",
            "MM_PLATFORM_DW_DB_URL": "postgresql+psycopg2://u@dw/db",
            "MM_PLATFORM_PLATFORM_DB_URL": "postgresql+psycopg2://u@platform/db",
            "MM_PLATFORM_VF_SCORING_BUCKET": "vf-prod-scoring",
            "MM_PLATFORM_VF_DEMAND_TABLE": "demandTable",
            "MM_PLATFORM_VF_ENTRY_SERVICE_URL": "https://entry.internal",
            "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": "https://campaigns.internal",
            "MM_PLATFORM_VF_SCORES_STREAM": "scoresStream",
            "MM_PLATFORM_SCORING_SUBMISSION_API_URL": "https://api.topcoder.com/v5",
            "MM_PLATFORM_ARENA_MULIGHETSROMMET_URL": "https://mulighetsrommet-api.intern.nav.no",
            "MM_PLATFORM_ARENA_ORDS_URL": "https://amt-arena-ords-proxy.intern.nav.no",
            "MM_PLATFORM_ARENA_AMT_TILTAK_URL": "https://amt-tiltak.intern.nav.no",
        }
    )
    assert s.aws_endpoint_url is None  # real AWS
    assert s.kafka_security_protocol == "SASL_SSL"
    vf = s.section(VerifiedFanSettings)
    assert (vf.scoring_bucket, vf.staging_bucket, vf.demand_table) == (
        "vf-prod-scoring",
        "vf-prod-scoring",
        "demandTable",
    )
    assert (vf.scores_stream, vf.campaign_data_stream) == ("scoresStream", None)  # a stream is opt-in


def test_production_requires_the_verified_fan_bucket_table_and_services() -> None:
    base = {
        "MM_PLATFORM_ENV": "production",
        "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": "b-1.msk:9096",
        "MM_PLATFORM_OLTP_DB_URL": "postgresql+psycopg2://u@oltp/db",
        "MM_PLATFORM_DW_DB_URL": "postgresql+psycopg2://u@dw/db",
        "MM_PLATFORM_PLATFORM_DB_URL": "postgresql+psycopg2://u@platform/db",
    }
    with pytest.raises(SettingsError, match="MM_PLATFORM_VF_SCORING_BUCKET is required"):
        load_settings(base)
    with pytest.raises(SettingsError, match="MM_PLATFORM_VF_ENTRY_SERVICE_URL is required"):
        load_settings(base | {"MM_PLATFORM_VF_SCORING_BUCKET": "b", "MM_PLATFORM_VF_DEMAND_TABLE": "t"})
    core_only = Settings.from_env(base)  # core alone is complete: the domain is read when asked for
    with pytest.raises(SettingsError, match="MM_PLATFORM_VF_SCORING_BUCKET is required"):
        core_only.section(VerifiedFanSettings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MM_PLATFORM_ENV": "staging"}, "MM_PLATFORM_ENV must be"),
        ({"MM_PLATFORM_SENSOR_MAX_MESSAGES": "many"}, "MM_PLATFORM_SENSOR_MAX_MESSAGES must be an integer"),
        ({"MM_PLATFORM_SENSOR_MAX_SECONDS": "55"}, r"must be in \(0, 40\]"),
        ({"MM_PLATFORM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "MM_PLATFORM_KAFKA_SASL_MECHANISM is required"),
        ({"MM_PLATFORM_VF_WRITE_WORKERS": "0"}, "MM_PLATFORM_VF_WRITE_WORKERS must be at least 1"),
        ({"MM_PLATFORM_VF_WRITE_WORKERS": "four"}, "MM_PLATFORM_VF_WRITE_WORKERS must be an integer"),
        ({"MM_PLATFORM_KAFKA_START_FROM": "now"}, "KAFKA_START_FROM must be 'earliest' or 'latest'"),
        ({"MM_PLATFORM_RATINGS_MODE": "remote"}, "RATINGS_MODE must be 'in_process' or 'delegated'"),
        ({"MM_PLATFORM_RATINGS_MODE": "delegated"}, "MM_PLATFORM_RATINGS_SERVICE_URL is required"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_secrets_are_not_kept_in_settings() -> None:
    s = load_settings({"MM_PLATFORM_KAFKA_SASL_PASSWORD": "hunter2", "MM_PLATFORM_SLACK_TOKEN": "xoxb-1"})
    assert "hunter2" not in repr(s) and "hunter2" not in str(dict(s.env))
    assert "xoxb-1" not in str(dict(s.env))
