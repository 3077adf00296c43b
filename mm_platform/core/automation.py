"""Declarative automation shared by every domain.

Dagster's `AutomationCondition.eager()` forgets an upstream update when the asset itself was also
updated between the same two automation ticks: its `since_last_handled()` resets on the asset's own
`newly_updated`, and the tick cannot tell which came first (dagster 1.13 drops the timing that could
tell through `|`/`&`). That is exactly the order an operator produces: a sensor's run materializes a
round's whole chain, then the operator re-materializes `round_ratings` alone; the next tick sees both
and requests nothing, so member stats stay stale for good.

`upstream_updates_propagate()` resets only on evidence that the update was handled: the asset was
requested or updated in a window in which none of its dependencies changed. An update that lands
in the same window keeps the condition true, so the asset is requested (once it is not in progress).
The worst case is one run too many, never a lost update. Runs of one partition are serialized by the
instance's per-partition limit, so "updated later" means "read the newer upstream".
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)


def upstream_updates_propagate() -> AutomationCondition:
    """`eager()` without its lost-update window (see the module docstring)."""
    deps_updated = AutomationCondition.any_deps_updated()
    handled = (
        (AutomationCondition.newly_requested() & ~deps_updated)
        | (AutomationCondition.newly_updated() & ~deps_updated)
        | AutomationCondition.initial_evaluation()
    ).with_label("handled with no newer upstream update")
    return (
        AutomationCondition.in_latest_time_window()
        & (AutomationCondition.newly_missing() | deps_updated).since(handled)
        & ~AutomationCondition.any_deps_missing()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    ).with_label("upstream updates propagate")


def automation_sensor(group: str, description: str) -> AutomationConditionSensorDefinition:
    """The automation sensor of a domain's asset group, running from the start, so an operator's
    re-materialization propagates without anyone switching a sensor on."""
    return AutomationConditionSensorDefinition(
        f"{group}_automation",
        target=AssetSelection.groups(group),
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=10,
        emit_backfills=False,
        description=description,
    )
