"""A marathon round's chain run in-process against real databases and moto: what the round chain's
and the member profile tests drive."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import boto3
from dagster import AssetKey, DagsterInstance, Definitions
from sqlalchemy import Engine, select

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID, insert_round
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores import schema as oltp

JOB = "marathon_round_job"


@dataclass
class Chain:
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    moto: str

    @property
    def oltp(self) -> Engine:
        return engine_for(self.settings.oltp_db_url)

    @property
    def dw(self) -> Engine:
        return engine_for(self.settings.dw_db_url)

    def run(self, round_id: int = SAMPLE_ROUND_ID, **kwargs):
        """The round's job as the review-END sensor requests it (the whole chain, named)."""
        self.instance.add_dynamic_partitions("marathon_round", [str(round_id)])
        job = self.defs.resolve_job_def(JOB)
        return job.execute_in_process(
            instance=self.instance,
            partition_key=str(round_id),
            raise_on_error=False,
            asset_selection=sorted(job.asset_layer.selected_asset_keys),
            **kwargs,
        )

    def materialize_only(self, name: str, round_id: int = SAMPLE_ROUND_ID):
        """What an operator's "Materialize selected" in the UI does for one asset partition."""
        return self.materialize([name], round_id)

    def materialize(self, names: Iterable[str], round_id: int = SAMPLE_ROUND_ID):
        """A run of these asset partitions as the UI or the automation sensor launches it (the run
        records its asset selection)."""
        return self.defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=self.instance,
            partition_key=str(round_id),
            asset_selection=[AssetKey(["marathon", name]) for name in names],
        )

    def table(self, history: bool = False):
        marathon = self.settings.section(MarathonSettings)
        return boto3.resource(
            "dynamodb", endpoint_url=self.moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS
        ).Table(marathon.member_history_table if history else marathon.member_stats_table)

    def stats_items(self, history: bool = False) -> dict[int, dict]:
        return {int(i["userId"]): i for i in self.table(history).scan()["Items"]}

    def marathon_block(self, coder_id: int, history: bool = False) -> dict:
        """DATA_SCIENCE.MARATHON_MATCH as the member API reads it: GetItem by userId, then JSON."""
        item = self.table(history).get_item(Key={"userId": coder_id})["Item"]
        return json.loads(item["DATA_SCIENCE"])["MARATHON_MATCH"]

    def lcr(self, round_id: int = SAMPLE_ROUND_ID) -> dict[int, tuple]:
        with self.oltp.connect() as conn:
            rows = conn.execute(
                select(oltp.long_comp_result).where(oltp.long_comp_result.c.round_id == round_id)
            )
            return {
                r.coder_id: (r.attended, int(r.rated_ind), r.new_rating, r.new_vol, r.old_rating, r.old_vol)
                for r in rows
            }

    def algo_ratings(self) -> dict[int, tuple]:
        with self.oltp.connect() as conn:
            return {
                r.coder_id: (int(r.rating), int(r.vol), int(r.num_ratings), r.round_id)
                for r in conn.execute(select(oltp.algo_rating))
            }


def insert_test_round(
    conn, round_id: int, start: dt.datetime, *, coders: int, seed: int, coder_id_base: int
) -> dict[str, list[int]]:
    """A round of its own for a test (its contest id is its round id)."""
    return insert_round(
        conn,
        round_id=round_id,
        contest_id=round_id,
        project_id=40_000_000 + round_id,
        start=start,
        coders=coders,
        seed=seed,
        coder_id_base=coder_id_base,
    )


def metadata_of(result, name: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == name]
    return {k: v.value for k, v in event.materialization.metadata.items()}
