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
    chain = {
        "marathon/long_comp_result_attendance": ["marathon/review_end_events"],
        "marathon/round_ratings": ["marathon/long_comp_result_attendance"],
        "marathon/dw_coders": ["marathon/round_ratings"],
        "marathon/dw_mm_ratings": ["marathon/dw_coders", "marathon/round_ratings"],
        "marathon/member_stats": ["marathon/dw_mm_ratings"],
        "marathon/member_search_index": ["marathon/member_stats"],
    }
    expected = {
        "marathon/review_end_events": {
            "deps": [],
            "group": "marathon",
            "partitions": None,
            "materializable": False,
        }
    }
    expected.update(
        {
            key: {"deps": deps, "group": "marathon", "partitions": "marathon_round", "materializable": True}
            for key, deps in chain.items()
        }
    )
    campaign_flow = {
        "verified_fan/scored_registrants": ["verified_fan/scoring_bucket"],
        "verified_fan/demand_registrations": ["verified_fan/scored_registrants"],
        "verified_fan/entry_scoring": ["verified_fan/scored_registrants"],
        "verified_fan/fanlist_scores": ["verified_fan/scoring_bucket"],
        "verified_fan/campaign_counts": ["verified_fan/demand_registrations", "verified_fan/fanlist_scores"],
        "verified_fan/verdict_report": ["verified_fan/campaign_counts"],
    }
    expected["verified_fan/scoring_bucket"] = {
        "deps": [],
        "group": "verified_fan",
        "partitions": None,
        "materializable": False,
    }
    expected.update(
        {
            key: {
                "deps": deps,
                "group": "verified_fan",
                "partitions": "verified_fan_campaign",
                "materializable": True,
            }
            for key, deps in campaign_flow.items()
        }
    )
    assert snapshot == expected
    # a manual re-materialization of an applying step brings the counts and the report along
    for key in ["demand_registrations", "entry_scoring", "campaign_counts", "verdict_report"]:
        assert graph.get(AssetKey(["verified_fan", key])).automation_condition is not None, key
    # downstream assets follow a manual re-materialization upstream
    for key in list(chain)[1:]:
        assert graph.get(AssetKey.from_user_string(key)).automation_condition is not None, key
    checks = sorted(k.name for k in graph.asset_check_keys)
    assert checks == [
        "counts_match_recount",
        "dw_matches_oltp",
        "every_attended_coder_rated",
        "stats_newer_than_dw_load",
    ]
    assert sorted(s.name for s in repo.sensor_defs) == [
        "inbox_failed_on_run_failure",
        "inbox_handled_on_run_success",
        "marathon_automation",
        "marathon_review_end_sensor",
        "verified_fan_automation",
        "verified_fan_scoring_bucket_sensor",
        "verified_fan_staged_parts_sensor",
    ]
    assert sorted(s.name for s in repo.schedule_defs) == [
        "marathon_review_end_retry",
        "verified_fan_file_retry",
    ]
    for name in [
        "marathon_round_job",
        "verified_fan_file_job",
        "verified_fan_registrants_job",
        "verified_fan_fanlist_job",
    ]:
        assert repo.get_job(name).executor_def.name == "in_process", name
    job = repo.get_job("marathon_round_job")
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
