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
        }
    )
    assert s.aws_endpoint_url is None  # real AWS
    assert s.kafka_security_protocol == "SASL_SSL"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MM_PLATFORM_ENV": "staging"}, "MM_PLATFORM_ENV must be"),
        ({"MM_PLATFORM_SENSOR_MAX_MESSAGES": "many"}, "MM_PLATFORM_SENSOR_MAX_MESSAGES must be an integer"),
        ({"MM_PLATFORM_SENSOR_MAX_SECONDS": "55"}, r"must be in \(0, 40\]"),
        ({"MM_PLATFORM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "MM_PLATFORM_KAFKA_SASL_MECHANISM is required"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
