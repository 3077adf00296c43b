"""Asset jobs that sensors launch: one in-process run materializes a partition's whole chain.

Their run requests name the job's assets explicitly. Dagster records an empty asset selection for a
run of a whole job, and declarative automation then cannot see that the run also materialized the
downstream assets (`executed_with_root_target`): every sensor-launched run would be followed by an
automation run of the same chain (see `core/automation.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DynamicPartitionsDefinition,
    ExecutorDefinition,
    RunRequest,
    define_asset_job,
    in_process_executor,
)


@dataclass(frozen=True)
class ChainJob:
    """An asset job over an explicit list of assets (dynamically partitioned), run in one process."""

    name: str
    assets: Sequence[AssetsDefinition] = field(repr=False)
    partitions_def: DynamicPartitionsDefinition
    description: str
    # tags of every run of the job (the instance's run queue limits runs by tag)
    tags: Mapping[str, str] = field(default_factory=dict)
    # in one process by default; a domain may choose step isolation (e.g. dagster_k8s.k8s_job_executor)
    executor_def: ExecutorDefinition = field(default=in_process_executor, repr=False)

    @cached_property
    def asset_keys(self) -> list[AssetKey]:
        return sorted({key for a in self.assets for key in a.keys}, key=lambda k: k.to_user_string())

    @cached_property
    def definition(self):
        """The Dagster job (one object, so that every sensor and Definitions share it)."""
        return define_asset_job(
            self.name,
            selection=AssetSelection.assets(*self.asset_keys),  # partitioned as its assets are
            executor_def=self.executor_def,
            description=self.description,
            tags=dict(self.tags) or None,
        )

    def run_request(self, *, run_key: str, partition_key: str, tags: Mapping[str, str]) -> RunRequest:
        return RunRequest(
            run_key=run_key,
            job_name=self.name,
            partition_key=partition_key,
            asset_selection=self.asset_keys,
            tags=dict(tags),
        )
