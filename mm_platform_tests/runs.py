"""Executing what a sensor requested, in process, the way the daemon would launch it."""

from __future__ import annotations

from typing import Any

from dagster import (
    DagsterInstance,
    Definitions,
    RunRequest,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
)


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


def evaluate_sensor(defs: Definitions, instance: DagsterInstance, name: str, cursor: str | None):
    """One evaluation of a sensor as the daemon does it: its result, with the dynamic partitions it
    asked for added to the instance (the caller keeps `result.cursor` for the next tick)."""
    sensor = defs.get_repository_def().get_sensor_def(name)
    context = build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources=defs.resources,
        definitions=defs,
    )
    result = sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def evaluate_schedule(defs: Definitions, instance: DagsterInstance, name: str):
    """One evaluation of a schedule (a retry schedule) against the instance."""
    schedule = defs.get_repository_def().get_schedule_def(name)
    context = build_schedule_context(
        instance=instance, resources=defs.resources, repository_def=defs.get_repository_def()
    )
    return schedule.evaluate_tick(context)


def execute_and_settle(defs: Definitions, instance: DagsterInstance, request: RunRequest, job_name: str):
    """Execute a requested run in process, then let the inbox outcome sensors see how it ended."""
    result = execute_request(defs, instance, request, job_name, raise_on_error=False)
    name = "inbox_handled_on_run_success" if result.success else "inbox_failed_on_run_failure"
    event = result.get_run_success_event() if result.success else result.get_run_failure_event()
    sensor = defs.get_repository_def().get_sensor_def(name)
    sensor(
        build_run_status_sensor_context(
            sensor_name=name,
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"inbox": defs.resources["inbox"]},
        )
    )
    return result
