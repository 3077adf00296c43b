"""The marathon domain's part of the embedded stack: its topics, the OLTP sample round, the DW
schema and the member API's stats tables, so everything the README names exists right after `make dev`."""

from __future__ import annotations

from collections.abc import Mapping

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.sample_data import load_sample_data
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores.dw_schema import create_dw_schema
from mm_platform.marathon.stores.stats_store import ensure_table


def topics(settings: Settings) -> Mapping[str, int]:
    marathon = settings.section(MarathonSettings)
    return {marathon.topics.autopilot: 3, marathon.topics.rating_calculation: 1}


def prepare_stack(settings: Settings) -> None:
    load_sample_data(settings.oltp_db_url)
    create_dw_schema(engine_for(settings.dw_db_url))
    if settings.aws_endpoint_url:
        dynamodb = build_aws_resources(settings)["dynamodb"].get_client()
        marathon = settings.section(MarathonSettings)
        for table in (marathon.member_stats_table, marathon.member_history_table):
            ensure_table(dynamodb, table)
