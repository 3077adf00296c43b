"""Where the Verified Fan flow keeps its data; the clients come from the shared AWS resources."""

from __future__ import annotations

from dagster import ConfigurableResource, DagsterInstance, DagsterRunStatus
from pydantic import Field

from mm_platform.core.aws import DynamoDBResource, build_aws_resources
from mm_platform.core.settings import Settings
from mm_platform.verified_fan.settings import DEFAULT_MAX_FILE_BYTES, VerifiedFanSettings
from mm_platform.verified_fan.stores.demand_store import DemandTable

FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


class VerifiedFanStore(ConfigurableResource):
    scoring_bucket: str = Field(description="bucket whose scrubbed/ and fanlist/scored/ files are scored")
    staging_bucket: str = Field(description="bucket for staged parts (under mm-platform/staged/)")
    demand_table: str = Field(description="DynamoDB demandTable")
    scores_stream: str | None = Field(default=None, description="Kinesis scoresStream; unset: not published")
    campaign_data_stream: str | None = Field(
        default=None, description="Kinesis campaignDataStream; unset: not published"
    )
    slack_channel: str = "#vf-scoring"
    write_workers: int = Field(default=4, description="parallel DynamoDB writers per run")
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_FILE_BYTES, description="a scored file's cap, decompressed; larger: INVALID"
    )
    part_max_attempts: int = Field(
        default=5, description="failed step attempts before a staged part is quarantined"
    )
    create_table: bool = Field(default=False, description="create the demand table when missing (embedded)")

    def demand(self, dynamodb: DynamoDBResource) -> DemandTable:
        table = DemandTable(dynamodb.get_client(), self.demand_table, workers=self.write_workers)
        if self.create_table:
            table.ensure()
        return table


def demand_table_of(settings: Settings) -> DemandTable:
    """The demand table the settings name, for tools outside a run (CLI, demo, stack, benchmarks)."""
    dynamodb = build_aws_resources(settings)["dynamodb"]
    return DemandTable(dynamodb.get_client(), settings.section(VerifiedFanSettings).demand_table)


def run_alive(instance: DagsterInstance):
    """Whether the Dagster run holding a campaign's lease is still at work. A holder that is no
    Dagster run (an operator's repair) is taken to be alive until its lease expires."""

    def alive(run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or run.status not in FINISHED

    return alive
