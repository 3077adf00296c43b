from __future__ import annotations

from pathlib import Path

import pytest

from mm_platform.core.settings import Settings, SettingsError


def test_defaults_point_at_the_embedded_stack(tmp_path: Path) -> None:
    s = Settings.from_env({"MM_PLATFORM_STATE_DIR": str(tmp_path)})
    assert s.embedded
    assert s.kafka_bootstrap_servers == "127.0.0.1:19092"
    assert s.aws_endpoint_url == "http://127.0.0.1:4566"
    assert s.oltp_db_url == f"sqlite:///{tmp_path}/oltp.db"
    assert s.platform_db_url == f"sqlite:///{tmp_path}/platform.db"
    assert s.dagster_home == tmp_path / "dagster_home"
    assert s.topics.autopilot == "notifications.autopilot.events"
    vf = s.verified_fan
    assert (vf.scoring_bucket, vf.staging_bucket, vf.demand_table) == (
        "vf-scoring",
        "vf-scoring",
        "vf-demand",
    )
    assert (vf.scores_stream, vf.campaign_data_stream) == ("vf-scores", "vf-campaign-data")
    assert vf.entry_service_url == vf.campaign_service_url == "http://127.0.0.1:4580"  # the stand-ins


def test_production_requires_real_endpoints() -> None:
    with pytest.raises(SettingsError, match="MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS is required"):
        Settings.from_env({"MM_PLATFORM_ENV": "production"})
    s = Settings.from_env(
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
        }
    )
    assert s.aws_endpoint_url is None  # real AWS
    assert s.kafka_security_protocol == "SASL_SSL"
    vf = s.verified_fan
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
        Settings.from_env(base)
    with pytest.raises(SettingsError, match="MM_PLATFORM_VF_ENTRY_SERVICE_URL is required"):
        Settings.from_env(base | {"MM_PLATFORM_VF_SCORING_BUCKET": "b", "MM_PLATFORM_VF_DEMAND_TABLE": "t"})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MM_PLATFORM_ENV": "staging"}, "MM_PLATFORM_ENV must be"),
        ({"MM_PLATFORM_SENSOR_MAX_MESSAGES": "many"}, "MM_PLATFORM_SENSOR_MAX_MESSAGES must be an integer"),
        ({"MM_PLATFORM_SENSOR_MAX_SECONDS": "55"}, r"must be in \(0, 40\]"),
        ({"MM_PLATFORM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "MM_PLATFORM_KAFKA_SASL_MECHANISM is required"),
        ({"MM_PLATFORM_VF_WRITE_WORKERS": "0"}, "MM_PLATFORM_VF_WRITE_WORKERS must be at least 1"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
