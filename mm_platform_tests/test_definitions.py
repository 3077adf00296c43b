"""The code location loads, and its asset graph is what the lineage view shows (a change here is a
change of lineage, to be reviewed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from dagster import AssetKey, instance_for_test

from mm_platform.core.settings import Settings
from mm_platform.definitions import build_definitions
from mm_platform.domains import load_settings

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
    # submission scoring: the topic -> scores per submission and phase -> the leaderboard (the UI's lineage)
    expected["scoring/submission_events"] = {
        "deps": [],
        "group": "scoring",
        "partitions": None,
        "materializable": False,
    }
    expected["scoring/submission_scores"] = {
        "deps": ["scoring/submission_events"],
        "group": "scoring",
        "partitions": "scoring_challenge",
        "materializable": True,
    }
    expected["scoring/challenge_leaderboard"] = {
        "deps": ["scoring/submission_scores"],
        "group": "scoring",
        "partitions": "scoring_challenge",
        "materializable": True,
    }
    # Arena ACL: the three topics -> the ledger -> its tables and the outbox -> the two AMT topics
    arena_flow = {
        "arena/tiltakgjennomforing_events": [],
        "arena/tiltakdeltaker_events": [],
        "arena/hist_tiltakdeltaker_events": [],
        "arena/arena_data": [
            "arena/hist_tiltakdeltaker_events",
            "arena/tiltakdeltaker_events",
            "arena/tiltakgjennomforing_events",
        ],
        "arena/gjennomforing": ["arena/arena_data"],
        "arena/deltaker": ["arena/arena_data"],
        "arena/id_translation": ["arena/arena_data"],
        "arena/amt_outbox": ["arena/arena_data"],
        "arena/amt_tiltak_topic": ["arena/amt_outbox"],
        "arena/amt_enkeltplass_topic": ["arena/amt_outbox"],
    }
    expected.update(
        {
            key: {"deps": deps, "group": "arena", "partitions": None, "materializable": bool(deps)}
            for key, deps in arena_flow.items()
        }
    )
    assert snapshot == expected
    # a manual re-materialization of an applying step brings the counts and the report along
    for key in ["demand_registrations", "entry_scoring", "campaign_counts", "verdict_report"]:
        assert graph.get(AssetKey(["verified_fan", key])).automation_condition is not None, key
    # downstream assets follow a manual re-materialization upstream
    for key in list(chain)[1:]:
        assert graph.get(AssetKey.from_user_string(key)).automation_condition is not None, key
    assert graph.get(AssetKey(["scoring", "challenge_leaderboard"])).automation_condition is not None
    checks = sorted(k.name for k in graph.asset_check_keys)
    assert checks == [
        "counts_match_recount",
        "dw_matches_oltp",
        "every_attended_coder_rated",
        "every_submission_has_an_outcome",
        "one_row_per_member_and_phase",
        "rank_fields_match_dw",
        "stats_newer_than_dw_load",
    ]
    assert sorted(s.name for s in repo.sensor_defs) == [
        "arena_ledger_sensor",
        "inbox_failed_on_run_failure",
        "inbox_handled_on_run_success",
        "marathon_automation",
        "marathon_review_end_sensor",
        "scoring_automation",
        "scoring_submission_sensor",
        "verified_fan_automation",
        "verified_fan_scoring_bucket_sensor",
        "verified_fan_staged_parts_sensor",
    ]
    assert sorted(s.name for s in repo.schedule_defs) == [
        "arena_failed_nightly",
        "arena_ignored_cleanup",
        "arena_retry_schedule",
        "marathon_review_end_retry",
        "scoring_submission_retry",
        "verified_fan_file_retry",
    ]
    for name in [
        "marathon_round_job",
        "verified_fan_file_job",
        "verified_fan_registrants_job",
        "verified_fan_fanlist_job",
        "scoring_challenge_job",
        "arena_ledger_job",
        "arena_ignored_cleanup_job",
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


def catalog(settings_env: dict[str, str]):
    defs = build_definitions(load_settings(settings_env))
    with instance_for_test():
        return defs.get_repository_def().asset_graph


def test_every_asset_names_its_owner_domain_and_code_version(tmp_path: Path) -> None:
    graph = catalog({"MM_PLATFORM_STATE_DIR": str(tmp_path)})
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        domain = key.path[0]
        assert node.owners, key
        assert node.tags.get("domain") == domain, key
        assert node.kinds, key
        if node.is_materializable:
            assert node.code_version, key
    stats = graph.get(AssetKey(["marathon", "member_stats"]))
    schema = stats.metadata["dagster/column_schema"]
    columns = [c.name for c in getattr(schema, "schema", schema).columns]
    assert columns[0] == "userId" and "DATA_SCIENCE" in columns
    for name in ("stats_newer_than_dw_load", "rank_fields_match_dw"):
        [check] = [k for k in graph.asset_check_keys if k.name == name]
        assert graph.get_check_spec(check).blocking  # the search index never indexes stale stats


def test_the_search_index_kind_says_where_documents_go(tmp_path: Path) -> None:
    key = AssetKey(["marathon", "member_search_index"])
    embedded = catalog({"MM_PLATFORM_STATE_DIR": str(tmp_path)})
    assert embedded.get(key).kinds == {"sql"}
    opensearch = catalog(
        {"MM_PLATFORM_STATE_DIR": str(tmp_path), "MM_PLATFORM_SEARCH_URL": "https://search:9200"}
    )
    assert opensearch.get(key).kinds == {"opensearch"}


def test_loading_the_code_location_warns_of_nothing(tmp_path: Path) -> None:
    """No DeprecationWarning, BetaWarning or PreviewWarning: each would be shown on every `make dev`."""
    script = (
        "import warnings, dagster\n"
        "for category in (DeprecationWarning, dagster.BetaWarning, dagster.PreviewWarning):\n"
        "    warnings.simplefilter('error', category)\n"
        "from mm_platform.definitions import defs\n"
        "with dagster.instance_for_test():\n"
        "    defs.get_repository_def()\n"
    )
    env = {**os.environ, "MM_PLATFORM_STATE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_dg_checks_the_project() -> None:
    dg = Path(sys.executable).with_name("dg")
    for command in (["check", "defs"], ["list", "defs", "--json"]):
        done = subprocess.run([str(dg), *command], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    listed = json.loads(done.stdout)
    assert {a["asset_key"] for a in listed["assets"]} >= {
        "marathon/member_stats",
        "verified_fan/verdict_report",
    }


def test_constraints_pin_only_what_the_project_installs() -> None:
    """Every pin is a requirement of setup.py or of one of them (a stale pin misleads upgrades)."""
    from importlib.metadata import PackageNotFoundError, distribution

    pinned = [
        line.split("==")[0].strip()
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    missing = []
    for name in pinned:
        try:
            distribution(name)
        except PackageNotFoundError:
            missing.append(name)
    assert not missing, f"pinned but not installed: {missing}"
