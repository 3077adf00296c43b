"""The code location: every registered domain's Definitions merged, with shared resources bound
from settings.

The environment (embedded stack or production) changes only what is bound here, never asset code.
"""

from __future__ import annotations

import warnings
from typing import Any

from dagster import BetaWarning, Definitions, in_process_executor

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.inbox import InboxResource
from mm_platform.core.kafka import kafka_resource
from mm_platform.core.secrets import bound_url
from mm_platform.core.sensors import make_inbox_outcome_sensors
from mm_platform.core.settings import Settings
from mm_platform.core.sql import SqlDatabase
from mm_platform.domains import DOMAINS, load_settings

# Dagster itself re-creates every job-targeted sensor with `owners=[]` while resolving the code
# location (SensorDefinition.with_attributes), which warns that `owners` is beta; we set no owners.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition.__init__`", category=BetaWarning
)


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "kafka": kafka_resource(settings),
        # a URL with a password is bound as the variable it came from: the UI shows only the name
        "inbox": InboxResource(
            database_url=bound_url(settings.platform_db_url, "MM_PLATFORM_PLATFORM_DB_URL")
        ),
        "oltp_db": SqlDatabase(url=bound_url(settings.oltp_db_url, "MM_PLATFORM_OLTP_DB_URL")),
        "dw_db": SqlDatabase(url=bound_url(settings.dw_db_url, "MM_PLATFORM_DW_DB_URL")),
        "platform_db": SqlDatabase(url=bound_url(settings.platform_db_url, "MM_PLATFORM_PLATFORM_DB_URL")),
        **build_aws_resources(settings),
    }


def build_definitions(settings: Settings) -> Definitions:
    return Definitions.merge(
        *(domain.definitions(settings) for domain in DOMAINS),
        # runs started from the UI or by automation execute in one process too, as the sensors' do
        Definitions(
            sensors=make_inbox_outcome_sensors(),
            resources=build_resources(settings),
            executor=in_process_executor,
        ),
    )


defs = build_definitions(load_settings())
