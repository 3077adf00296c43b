"""Settings read from `MM_PLATFORM_*` environment variables: core's here, each domain's in its own
typed section (`settings.section(VerifiedFanSettings)`), parsed by the same `EnvReader`.

Every default points at the embedded stack (`mm-platform dev`): Tansu on 127.0.0.1:19092, moto on
127.0.0.1:4566 and SQLite files under the state folder. Production sets the Kafka, AWS and database
variables; the asset code never changes, only what `definitions.py` binds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

EMBEDDED = "embedded"
PRODUCTION = "production"
PREFIX = "MM_PLATFORM_"

EMBEDDED_KAFKA_PORT = 19092
EMBEDDED_MOTO_PORT = 4566
# where the embedded stack's stand-ins for other teams' services listen
EMBEDDED_STANDIN_PORT = 4580
# never kept in a Settings object: secrets reach resources as Dagster EnvVars (core/secrets.py)
SECRET_SUFFIXES = ("PASSWORD", "TOKEN", "SECRET")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class EnvReader:
    """`MM_PLATFORM_<NAME>` variables with the platform's rules for defaults and errors."""

    env: Mapping[str, str]
    environment: str
    state_dir: Path

    @property
    def embedded(self) -> bool:
        return self.environment == EMBEDDED

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(PREFIX + name)
        return value if value not in (None, "") else default

    def text(self, name: str, default: str) -> str:
        return self.get(name, default) or default

    def number(self, name: str, default: float) -> float:
        return self._convert(name, default, float, "a number")

    def integer(self, name: str, default: int) -> int:
        return self._convert(name, default, int, "an integer")

    def _convert(self, name: str, default: Any, kind: type, what: str) -> Any:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return kind(raw)
        except ValueError as exc:
            raise SettingsError(f"{PREFIX}{name} must be {what}, got {raw!r}") from exc

    def choice(self, name: str, default: str, choices: Iterable[str], upper: bool = False) -> str:
        raw = self.text(name, default)
        value = raw.upper() if upper else raw.lower()
        allowed = list(choices)
        if value not in allowed:
            shown = " or ".join(repr(c) for c in allowed)
            raise SettingsError(f"{PREFIX}{name} must be {shown}, got {raw!r}")
        return value

    def required_in_production(self, name: str, embedded_default: str) -> str:
        value = self.get(name)
        if value:
            return value
        if self.embedded:
            return embedded_default
        raise SettingsError(f"{PREFIX}{name} is required when {PREFIX}ENV=production")

    def embedded_only(self, name: str, embedded_default: str) -> str | None:
        """Set by the embedded stack, opt-in in production; `off` turns it off."""
        value = self.get(name, embedded_default if self.embedded else None)
        return None if value is None or value.lower() == "off" else value

    def sqlite_in_state(self, file_name: str) -> str:
        return f"sqlite:///{self.state_dir / file_name}"


SectionT = TypeVar("SectionT")


@dataclass(frozen=True, repr=False)
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
    # the variables the domain sections are read from (secrets left out) and the sections read so far
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    _sections: dict[type, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def embedded(self) -> bool:
        return self.environment == EMBEDDED

    def __repr__(self) -> str:
        # database URLs may hold passwords: a settings object printed or logged shows none
        from mm_platform.core.secrets import redacted

        shown = {
            f.name: redacted(value) if f.name.endswith("_url") else value
            for f in fields(self)
            if f.repr and not f.name.startswith("_") and f.name != "env"
            for value in [getattr(self, f.name)]
        }
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster_home"

    @property
    def reader(self) -> EnvReader:
        return EnvReader(self.env, self.environment, self.state_dir)

    def section(self, kind: type[SectionT]) -> SectionT:
        """A domain's settings, read (and validated) on first use."""
        if kind not in self._sections:
            self._sections[kind] = kind.from_env(self.reader)  # type: ignore[attr-defined]
        return self._sections[kind]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, sections: Iterable[type] = ()) -> Settings:
        """Core settings from `env` (default: the process environment); `sections` are read now, so
        that a bad domain setting stops a command before it starts anything."""
        source = os.environ if env is None else env
        kept = {k: v for k, v in source.items() if k.startswith(PREFIX) and not k.endswith(SECRET_SUFFIXES)}
        environment = EnvReader(kept, EMBEDDED, Path()).choice("ENV", EMBEDDED, (EMBEDDED, PRODUCTION))
        state_dir = Path(kept.get(PREFIX + "STATE_DIR") or ".mm_platform").expanduser().resolve()
        read = EnvReader(kept, environment, state_dir)
        embedded = read.embedded
        settings = cls(
            environment=environment,
            state_dir=state_dir,
            kafka_bootstrap_servers=read.required_in_production(
                "KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{EMBEDDED_KAFKA_PORT}"
            ),
            kafka_security_protocol=read.text("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            kafka_sasl_mechanism=read.get("KAFKA_SASL_MECHANISM"),
            kafka_sasl_username=read.get("KAFKA_SASL_USERNAME"),
            kafka_ssl_ca_location=read.get("KAFKA_SSL_CA_LOCATION"),
            kafka_timeout_seconds=read.number("KAFKA_TIMEOUT_SECONDS", 10.0),
            kafka_start_from=read.choice("KAFKA_START_FROM", "earliest", ("earliest", "latest")),
            aws_region=read.text("AWS_REGION", "us-east-1"),
            aws_endpoint_url=read.get(
                "AWS_ENDPOINT_URL", f"http://127.0.0.1:{EMBEDDED_MOTO_PORT}" if embedded else None
            ),
            oltp_db_url=read.required_in_production("OLTP_DB_URL", read.sqlite_in_state("oltp.db")),
            dw_db_url=read.required_in_production("DW_DB_URL", read.sqlite_in_state("dw.db")),
            platform_db_url=read.required_in_production(
                "PLATFORM_DB_URL", read.sqlite_in_state("platform.db")
            ),
            sensor_interval_seconds=read.integer("SENSOR_INTERVAL_SECONDS", 2),
            sensor_max_messages=read.integer("SENSOR_MAX_MESSAGES", 5000),
            sensor_max_seconds=read.number("SENSOR_MAX_SECONDS", 15.0),
            retry_max_attempts=read.integer("RETRY_MAX_ATTEMPTS", 288),
            env=kept,
        )
        if settings.kafka_security_protocol.startswith("SASL") and not settings.kafka_sasl_mechanism:
            raise SettingsError("MM_PLATFORM_KAFKA_SASL_MECHANISM is required with a SASL security protocol")
        if not 0 < settings.sensor_max_seconds <= 40:
            # Dagster kills a sensor evaluation at 60 s; leave room for the inbox write and the cursor.
            raise SettingsError("MM_PLATFORM_SENSOR_MAX_SECONDS must be in (0, 40]")
        for kind in sections:
            settings.section(kind)
        return settings
