"""The code location: every domain's Definitions merged, with resources bound from settings.

The environment (embedded stack or production) changes only what is bound here, never asset code.
"""

from __future__ import annotations

from typing import Any

from dagster import Definitions, in_process_executor

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.inbox import InboxResource
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.secrets import bound_secret
from mm_platform.core.sensors import make_inbox_outcome_sensors
from mm_platform.core.settings import Settings
from mm_platform.core.sql import SqlDatabase
from mm_platform.marathon.definitions import marathon_definitions
from mm_platform.verified_fan.definitions import verified_fan_definitions


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "kafka": KafkaResource(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=bound_secret("MM_PLATFORM_KAFKA_SASL_PASSWORD"),
            ssl_ca_location=settings.kafka_ssl_ca_location,
            request_timeout_seconds=settings.kafka_timeout_seconds,
            start_from=settings.kafka_start_from,
        ),
        "inbox": InboxResource(database_url=settings.platform_db_url),
        "oltp_db": SqlDatabase(url=settings.oltp_db_url),
        "dw_db": SqlDatabase(url=settings.dw_db_url),
        "platform_db": SqlDatabase(url=settings.platform_db_url),
        **build_aws_resources(settings),
    }


def build_definitions(settings: Settings) -> Definitions:
    return Definitions.merge(
        marathon_definitions(settings),
        verified_fan_definitions(settings),
        # runs started from the UI or by automation execute in one process too, as the sensor's do
        Definitions(
            sensors=make_inbox_outcome_sensors(),
            resources=build_resources(settings),
            executor=in_process_executor,
        ),
    )


defs = build_definitions(Settings.from_env())
