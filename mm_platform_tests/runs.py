"""Executing what a sensor requested, in process, the way the daemon would launch it."""

from __future__ import annotations

from typing import Any

from dagster import DagsterInstance, Definitions, RunRequest


def execute_request(
    defs: Definitions,
    instance: DagsterInstance,
    request: RunRequest,
    job_name: str | None = None,
    **kwargs: Any,
):
    """The request's job (or `job_name` for a sensor with one job), partition, tags and asset selection."""
    job = defs.resolve_job_def(request.job_name or job_name or "")
    return job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags=request.tags,
        asset_selection=request.asset_selection,
        **kwargs,
    )
