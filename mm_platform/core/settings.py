"""One typed settings object, read from `MM_PLATFORM_*` environment variables.

Every default points at the embedded stack (`mm-platform dev`): Tansu on 127.0.0.1:19092, moto on
127.0.0.1:4566 and SQLite files under the state folder. Production sets the Kafka, AWS and database
variables; the asset code never changes, only what `definitions.py` binds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EMBEDDED = "embedded"
PRODUCTION = "production"

EMBEDDED_KAFKA_PORT = 19092
EMBEDDED_MOTO_PORT = 4566
# the embedded stand-ins for the Entry Service and the Campaign Service (other teams' APIs)
EMBEDDED_STANDIN_PORT = 4580


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Topics:
    autopilot: str = "notifications.autopilot.events"
    rating_calculation: str = "notification.rating.calculation"


@dataclass(frozen=True)
class VerifiedFanSettings:
    scoring_bucket: str = "vf-scoring"
    staging_bucket: str = "vf-scoring"  # staged parts go under mm-platform/staged/ there
    demand_table: str = "vf-demand"
    scores_stream: str | None = None  # Kinesis scoresStream; unset: not published
    campaign_data_stream: str | None = None  # Kinesis campaignDataStream; unset: not published
    entry_service_url: str = f"http://127.0.0.1:{EMBEDDED_STANDIN_PORT}"
    campaign_service_url: str = f"http://127.0.0.1:{EMBEDDED_STANDIN_PORT}"
    slack_channel: str = "#vf-scoring"
    write_workers: int = 4


@dataclass(frozen=True)
class Settings:
    environment: str
    state_dir: Path
    kafka_bootstrap_servers: str
    kafka_security_protocol: str
    kafka_sasl_mechanism: str | None
    kafka_sasl_username: str | None
    kafka_ssl_ca_location: str | None
    kafka_timeout_seconds: float
    kafka_start_from: str
    aws_region: str
    aws_endpoint_url: str | None
    oltp_db_url: str
    dw_db_url: str
    platform_db_url: str
    sensor_interval_seconds: int
    sensor_max_messages: int
    sensor_max_seconds: float
    retry_max_attempts: int
    member_stats_table: str
    ratings_mode: str
    search_url: str | None
    search_index: str
    search_username: str | None
    ratings_service_url: str | None
    verified_fan: VerifiedFanSettings = field(default_factory=VerifiedFanSettings)
    slack_base_url: str = "https://slack.com/api/"
    topics: Topics = field(default_factory=Topics)

    @property
    def embedded(self) -> bool:
        return self.environment == EMBEDDED

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster_home"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(f"MM_PLATFORM_{name}")
            return value if value not in (None, "") else default

        def get_number(name: str, default: float, kind: type = float) -> Any:
            raw = get(name, str(default))
            try:
                return kind(raw)
            except ValueError as exc:
                what = "an integer" if kind is int else "a number"
                raise SettingsError(f"MM_PLATFORM_{name} must be {what}, got {raw!r}") from exc

        environment = (get("ENV", EMBEDDED) or EMBEDDED).lower()
        if environment not in (EMBEDDED, PRODUCTION):
            raise SettingsError(
                f"MM_PLATFORM_ENV must be {EMBEDDED!r} or {PRODUCTION!r}, got {environment!r}"
            )
        embedded = environment == EMBEDDED
        state_dir = Path(get("STATE_DIR", ".mm_platform")).expanduser().resolve()  # type: ignore[arg-type]

        def required_in_production(name: str, embedded_default: str) -> str:
            value = get(name)
            if value:
                return value
            if embedded:
                return embedded_default
            raise SettingsError(f"MM_PLATFORM_{name} is required when MM_PLATFORM_ENV=production")

        def optional_stream(name: str, embedded_default: str) -> str | None:
            """A Kinesis stream to publish to: the embedded stack has one, production names it; off: none."""
            value = get(name, embedded_default if embedded else None)
            return None if value is None or value.lower() == "off" else value

        def verified_fan_settings() -> VerifiedFanSettings:
            scoring_bucket = required_in_production("VF_SCORING_BUCKET", "vf-scoring")
            standins = f"http://127.0.0.1:{EMBEDDED_STANDIN_PORT}"
            return VerifiedFanSettings(
                scoring_bucket=scoring_bucket,
                staging_bucket=get("VF_STAGING_BUCKET", scoring_bucket),  # type: ignore[arg-type]
                demand_table=required_in_production("VF_DEMAND_TABLE", "vf-demand"),
                scores_stream=optional_stream("VF_SCORES_STREAM", "vf-scores"),
                campaign_data_stream=optional_stream("VF_CAMPAIGN_DATA_STREAM", "vf-campaign-data"),
                entry_service_url=required_in_production("VF_ENTRY_SERVICE_URL", standins),
                campaign_service_url=required_in_production("VF_CAMPAIGN_SERVICE_URL", standins),
                slack_channel=get("VF_SLACK_CHANNEL", "#vf-scoring"),  # type: ignore[arg-type]
                write_workers=get_number("VF_WRITE_WORKERS", 4, int),
            )

        settings = cls(
            environment=environment,
            state_dir=state_dir,
            kafka_bootstrap_servers=required_in_production(
                "KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{EMBEDDED_KAFKA_PORT}"
            ),
            kafka_security_protocol=(get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") or "").upper(),
            kafka_sasl_mechanism=get("KAFKA_SASL_MECHANISM"),
            kafka_sasl_username=get("KAFKA_SASL_USERNAME"),
            kafka_ssl_ca_location=get("KAFKA_SSL_CA_LOCATION"),
            kafka_timeout_seconds=get_number("KAFKA_TIMEOUT_SECONDS", 10.0),
            kafka_start_from=(get("KAFKA_START_FROM", "earliest") or "").lower(),
            aws_region=get("AWS_REGION", "us-east-1"),  # type: ignore[arg-type]
            aws_endpoint_url=get(
                "AWS_ENDPOINT_URL", f"http://127.0.0.1:{EMBEDDED_MOTO_PORT}" if embedded else None
            ),
            oltp_db_url=required_in_production("OLTP_DB_URL", _sqlite_url(state_dir / "oltp.db")),
            dw_db_url=required_in_production("DW_DB_URL", _sqlite_url(state_dir / "dw.db")),
            platform_db_url=required_in_production("PLATFORM_DB_URL", _sqlite_url(state_dir / "platform.db")),
            sensor_interval_seconds=get_number("SENSOR_INTERVAL_SECONDS", 2, int),
            sensor_max_messages=get_number("SENSOR_MAX_MESSAGES", 5000, int),
            sensor_max_seconds=get_number("SENSOR_MAX_SECONDS", 15.0),
            retry_max_attempts=get_number("RETRY_MAX_ATTEMPTS", 288, int),
            member_stats_table=get("MEMBER_STATS_TABLE", "mm_platform_member_stats"),  # type: ignore[arg-type]
            ratings_mode=(get("RATINGS_MODE", "in_process") or "").lower(),
            search_url=get("SEARCH_URL"),
            search_index=get("SEARCH_INDEX", "member-profiles"),  # type: ignore[arg-type]
            search_username=get("SEARCH_USERNAME"),
            ratings_service_url=get("RATINGS_SERVICE_URL"),
            verified_fan=verified_fan_settings(),
            slack_base_url=get("SLACK_BASE_URL", "https://slack.com/api/"),  # type: ignore[arg-type]
            topics=Topics(
                autopilot=get("TOPIC_AUTOPILOT", Topics.autopilot),  # type: ignore[arg-type]
                rating_calculation=get("TOPIC_RATING_CALCULATION", Topics.rating_calculation),  # type: ignore[arg-type]
            ),
        )
        if settings.kafka_security_protocol.startswith("SASL") and not settings.kafka_sasl_mechanism:
            raise SettingsError("MM_PLATFORM_KAFKA_SASL_MECHANISM is required with a SASL security protocol")
        if settings.ratings_mode not in ("in_process", "delegated"):
            raise SettingsError("MM_PLATFORM_RATINGS_MODE must be 'in_process' or 'delegated'")
        if settings.ratings_mode == "delegated" and not settings.ratings_service_url:
            raise SettingsError(
                "MM_PLATFORM_RATINGS_SERVICE_URL is required with MM_PLATFORM_RATINGS_MODE=delegated"
            )
        if settings.verified_fan.write_workers < 1:
            raise SettingsError("MM_PLATFORM_VF_WRITE_WORKERS must be at least 1")
        if settings.kafka_start_from not in ("earliest", "latest"):
            raise SettingsError("MM_PLATFORM_KAFKA_START_FROM must be 'earliest' or 'latest'")
        if not 0 < settings.sensor_max_seconds <= 40:
            # Dagster kills a sensor evaluation at 60 s; leave room for the inbox write and the cursor.
            raise SettingsError("MM_PLATFORM_SENSOR_MAX_SECONDS must be in (0, 40]")
        return settings
