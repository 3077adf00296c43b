"""The code location loads, and its asset graph is what the lineage view shows (a change here is a
change of lineage, to be reviewed)."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import AssetKey, instance_for_test

from mm_platform.core.settings import Settings
from mm_platform.definitions import build_definitions

REPO = Path(__file__).resolve().parents[1]


def test_definitions_load_and_the_asset_graph_is_as_designed(tmp_path: Path) -> None:
    defs = build_definitions(Settings.from_env({"MM_PLATFORM_STATE_DIR": str(tmp_path)}))
    # Dagster resolves definitions-state storage through the current instance
    with instance_for_test():
        repo = defs.get_repository_def()
    graph = repo.asset_graph
    snapshot = {
        key.to_user_string(): {
            "deps": sorted(p.to_user_string() for p in graph.get(key).parent_keys),
            "group": graph.get(key).group_name,
            "partitions": getattr(graph.get(key).partitions_def, "name", None),
            "materializable": graph.get(key).is_materializable,
        }
        for key in graph.get_all_asset_keys()
    }
    assert snapshot == {
        "marathon/review_end_events": {
            "deps": [],
            "group": "marathon",
            "partitions": None,
            "materializable": False,
        },
        "marathon/long_comp_result_attendance": {
            "deps": ["marathon/review_end_events"],
            "group": "marathon",
            "partitions": "marathon_round",
            "materializable": True,
        },
    }
    assert sorted(s.name for s in repo.sensor_defs) == [
        "inbox_failed_on_run_failure",
        "inbox_handled_on_run_success",
        "marathon_review_end_sensor",
    ]
    assert [s.name for s in repo.schedule_defs] == ["marathon_review_end_retry"]
    job = repo.get_job("marathon_round_job")
    assert job.executor_def.name == "in_process"
    assert (
        AssetKey(["marathon", "long_comp_result_attendance"])
        in job.asset_layer.asset_graph.get_all_asset_keys()
    )


def test_workspace_loads_the_module_that_defines_defs() -> None:
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    [target] = workspace["load_from"]
    assert target["python_module"]["module_name"] == "mm_platform.definitions"
    import mm_platform.definitions as module

    assert getattr(module, target["python_module"]["attribute"]) is not None
