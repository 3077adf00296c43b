"""Member profiles the member API serves as they are (issue 13): after a round's run, every member's
MemberStats and MemberHistoryStats items, read back with the calls the member API makes (GetItem by
userId, DATA_SCIENCE JSON-decoded) from moto over HTTP, hold what the DW says, on SQLite and
PostgreSQL; other writers' tracks are kept byte for byte; members published in the previous release's
shape are published again; a concurrent writer's change is merged, not overwritten."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter, defaultdict

import boto3
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.devstack import free_port
from mm_platform.marathon.defs.profile_assets import rank_mismatches
from mm_platform.marathon.dev.cli import trace
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID
from mm_platform.marathon.dev.trace import published_profile
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores.stats_store import ensure_table, merge_items, read_items
from mm_platform_tests.marathon.chain import Chain, insert_test_round, metadata_of

# what another team's writers left in a member's items (the member API's processors store tracks
# with JSON.stringify: compact, no spaces)
DEVELOP = (
    '{"challenges":12,"wins":3,"subTracks":[{"name":"CODE","challenges":12,"wins":3,"rank":{"rating":2100}}]}'
)
DESIGN = '{"challenges":2,"wins":0,"subTracks":[]}'
COPILOT = '{"contests":7,"projects":3,"failures":0,"fulfillment":100}'
SRM = (
    '{"challenges":40,"wins":5,"mostRecentEventName":"SRM 851","mostRecentEventDate":1300000000000,'
    '"rank":{"rating":3300,"percentile":99.97}}'
)
SRM_HISTORY = (
    '{"history":[{"challengeId":15000,"challengeName":"SRM 851","date":1300000000000,"rating":3300}]}'
)


def member_api_get(chain: Chain, user_id: int, history: bool = False) -> tuple[dict, dict]:
    """The item and its DATA_SCIENCE, as the member API's GetItem and JSON.parse give them."""
    item = chain.table(history).get_item(Key={"userId": user_id})["Item"]
    return item, json.loads(item["DATA_SCIENCE"])


def dw_truth(chain: Chain) -> dict[int, dict]:
    """Per member of the sample round, the fields recomputed here from the DW rows."""
    truth: dict[int, dict] = defaultdict(dict)
    with chain.dw.connect() as conn:
        for r in conn.execute(
            select(dw.country_coder_rank).where(dw.country_coder_rank.c.coder_rank_type_id == 1)
        ):
            truth[r.coder_id]["countryRank"] = r.rank
        for r in conn.execute(
            select(dw.school_coder_rank).where(dw.school_coder_rank.c.coder_rank_type_id == 1)
        ):
            truth[r.coder_id]["schoolRank"] = r.rank
        languages = dict(conn.execute(select(dw.language.c.language_id, dw.language.c.language_name)).all())
        uses: dict[int, Counter] = defaultdict(Counter)
        for r in conn.execute(
            select(dw.long_problem_submission).where(dw.long_problem_submission.c.example == 0)
        ):
            truth[r.coder_id]["mostRecentSubmission"] = (
                max(truth[r.coder_id].get("mostRecentSubmission") or 0, r.submit_time or 0) or None
            )
            if r.language_id in languages:
                uses[r.coder_id][languages[r.language_id]] += 1
        for coder_id, counts in uses.items():
            top = max(counts.values())
            truth[coder_id]["languages"] = {name for name, n in counts.items() if n == top}
        for r in conn.execute(
            select(dw.long_comp_result).where(dw.long_comp_result.c.round_id == SAMPLE_ROUND_ID)
        ):
            truth[r.coder_id]["lcr"] = r
    return truth


def test_every_member_gets_member_api_items_holding_what_the_dw_says(chain: Chain) -> None:
    result = chain.run()
    assert result.success
    [rank_check] = [c for c in result.get_asset_check_evaluations() if c.check_name == "rank_fields_match_dw"]
    assert rank_check.passed and rank_check.metadata["mismatches"].value == 0
    members = chain.lcr()
    truth = dw_truth(chain)
    assert any("schoolRank" in t for t in truth.values()) and any("countryRank" in t for t in truth.values())
    start = chain_round_start(chain)
    for coder_id in members:
        item, science = member_api_get(chain, coder_id)
        assert item["handleLower"] == item["handle"].lower()
        mm, want, lcr = science["MARATHON_MATCH"], truth[coder_id], truth[coder_id]["lcr"]
        rank = mm["rank"]
        attended = lcr.attended == "Y"
        assert mm["challenges"] == int(attended) == science["challenges"] == item["challenges"]
        assert mm["wins"] == int(attended and lcr.placed == 1) == item["wins"]
        assert (rank["countryRank"], rank["schoolRank"]) == (want.get("countryRank"), want.get("schoolRank"))
        assert rank["defaultLanguage"] in want.get("languages", {None})
        assert mm["mostRecentSubmission"] == want.get("mostRecentSubmission")
        if attended:
            assert mm["mostRecentEventDate"] == int(start.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
            assert mm["mostRecentEventName"].startswith("Marathon Match")
            assert (rank["bestRank"], rank["avgRank"]) == (lcr.placed, float(lcr.placed))
            assert rank["avgNumSubmissions"] == float(lcr.num_submissions)
            assert item["maxRating"] == {
                "rating": lcr.new_rating,
                "track": "DATA_SCIENCE",
                "subTrack": "MARATHON_MATCH",
            }
            assert isinstance(rank["percentile"], float) and isinstance(rank["rank"], int)
        _, past = member_api_get(chain, coder_id, history=True)
        entries = past["MARATHON_MATCH"]["history"]
        assert [e["challengeId"] for e in entries] == ([SAMPLE_ROUND_ID] if lcr.rated_ind == 1 else [])
        for entry in entries:
            assert (entry["rating"], entry["placement"]) == (lcr.new_rating, lcr.placed)
    # the search documents: the same structure, tracks as objects
    with chain.dw.connect() as conn:
        documents = {r.coder_id: r.document for r in conn.execute(select(dw.member_search_document))}
    some = next(c for c, row in members.items() if row[0] == "Y")
    _, science = member_api_get(chain, some)
    assert documents[some]["DATA_SCIENCE"] == science


def chain_round_start(chain: Chain) -> dt.datetime:
    with chain.dw.connect() as conn:
        start = conn.execute(select(dw.round_.c.start_date).where(dw.round_.c.round_id == SAMPLE_ROUND_ID))
        return start.scalar_one()


def test_other_writers_tracks_are_kept_byte_for_byte_after_a_round(chain: Chain) -> None:
    coder_id = min(chain.lcr())  # every member of the round gets items, attended or not
    client = boto3.client(
        "dynamodb", endpoint_url=chain.moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS
    )
    for name in (chain.table().name, chain.table(history=True).name):
        ensure_table(client, name)
    existing = {
        "userId": coder_id,
        "handle": "OldHandle",
        "DEVELOP": DEVELOP,
        "DESIGN": DESIGN,
        "COPILOT": COPILOT,
        "DATA_SCIENCE": '{"challenges":40,"wins":5,"SRM":' + SRM + "}",
        "maxRating": {"rating": 3300, "track": "DATA_SCIENCE", "subTrack": "SRM"},
        "photoURL": "https://example.org/p.png",
        "createdAt": 1_200_000_000_000,
        "createdBy": "member-api",
        "updatedAt": 1_300_000_000_000,
    }
    chain.table().put_item(Item=existing)
    chain.table(history=True).put_item(
        Item={"userId": coder_id, "DEVELOP": DEVELOP, "DATA_SCIENCE": '{"SRM":' + SRM_HISTORY + "}"}
    )
    assert chain.run().success

    item, science = member_api_get(chain, coder_id)
    for name in ("DEVELOP", "DESIGN", "COPILOT", "photoURL", "createdAt", "createdBy"):
        assert item[name] == existing[name], name
    assert '"SRM":' + SRM in item["DATA_SCIENCE"]  # SRM's JSON text untouched
    assert item["maxRating"] == existing["maxRating"]  # 3300 in SRM beats the marathon rating
    mm = science["MARATHON_MATCH"]
    assert (science["challenges"], science["wins"]) == (40 + mm["challenges"], 5 + mm["wins"])
    assert (item["challenges"], item["wins"]) == (science["challenges"] + 12 + 2, science["wins"] + 3)
    assert item["handle"] != "OldHandle" and item["updatedBy"] == "mm_platform"
    history, past = member_api_get(chain, coder_id, history=True)
    assert history["DEVELOP"] == DEVELOP and '"SRM":' + SRM_HISTORY in history["DATA_SCIENCE"]
    assert [e["challengeId"] for e in past["MARATHON_MATCH"]["history"]] == [SAMPLE_ROUND_ID]


def test_an_item_another_writer_broke_is_left_as_is_and_counted(chain: Chain) -> None:
    coder_id = min(chain.lcr())  # every member of the round gets items, attended or not
    client = boto3.client(
        "dynamodb", endpoint_url=chain.moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS
    )
    ensure_table(client, chain.table().name)
    chain.table().put_item(Item={"userId": coder_id, "DATA_SCIENCE": "{truncated", "updatedAt": 5})
    result = chain.run()
    assert result.success
    assert metadata_of(result, "member_stats")["items_left_as_is"] == 1
    assert chain.table().get_item(Key={"userId": coder_id})["Item"]["DATA_SCIENCE"] == "{truncated"
    assert len(chain.stats_items()) == len(chain.lcr())  # everyone else published


def test_members_published_in_the_previous_shape_are_published_again_by_the_next_round(chain: Chain) -> None:
    assert chain.run().success
    first = set(chain.lcr())
    # what the previous release left: fingerprints without the shape, and no MemberStats items
    state = dw.member_profile_state
    with chain.dw.begin() as conn:
        for coder_id, ranks in conn.execute(select(state.c.coder_id, state.c.ranks)).all():
            conn.execute(
                update(state).where(state.c.coder_id == coder_id).values(ranks=ranks.removeprefix("v2|"))
            )
    with chain.table().batch_writer() as batch:
        for coder_id in first:
            batch.delete_item(Key={"userId": coder_id})

    other = 990311
    with chain.oltp.begin() as conn:
        insert_test_round(conn, other, dt.datetime(2024, 6, 1), coders=5, seed=11, coder_id_base=32_000_000)
    result = chain.run(other)
    assert result.success
    assert metadata_of(result, "member_stats")["reranked_members"] >= len(first)
    assert first <= set(chain.stats_items())
    # published once in the new shape: the next run has nobody to republish
    again = chain.materialize_only("member_stats", other)
    assert metadata_of(again, "member_stats")["reranked_members"] == 0


def test_a_concurrent_writers_change_is_merged_not_overwritten(chain: Chain) -> None:
    client = boto3.client(
        "dynamodb", endpoint_url=chain.moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS
    )
    name = chain.table().name
    ensure_table(client, name)
    chain.table().put_item(Item={"userId": 1, "DEVELOP": '{"challenges":1}', "updatedAt": 1})
    interfered = threading.Event()

    def merge(seen):
        if not interfered.is_set():  # another team's processor writes between our read and write
            interfered.set()
            chain.table().put_item(Item={**seen, "DESIGN": '{"challenges":2}', "updatedAt": 2})
        return {**(seen or {}), "userId": 1, "DATA_SCIENCE": "{}", "updatedAt": 3}

    outcome = merge_items(client, name, {1: merge})
    assert (outcome.written, outcome.retried) == (1, 1)
    item = chain.table().get_item(Key={"userId": 1})["Item"]
    assert (item["DEVELOP"], item["DESIGN"], item["DATA_SCIENCE"]) == (
        '{"challenges":1}',
        '{"challenges":2}',
        "{}",
    )


def test_rank_fields_that_differ_from_the_dw_are_named() -> None:
    item = {
        "DATA_SCIENCE": json.dumps(
            {"MARATHON_MATCH": {"rank": {"rating": 1500, "rank": 3, "competitions": 2}}}
        )
    }
    expected = {7: {"rating": 1500, "rank": 4, "competitions": 2}}
    assert rank_mismatches({7: item}, expected, [7, 8]) == ["7: rank 3 (DW 4)", "8: no item"]


def test_trace_shows_the_fields_a_member_sees(chain: Chain) -> None:
    coder_id = min(chain.lcr())
    client = boto3.client(
        "dynamodb", endpoint_url=chain.moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS
    )
    ensure_table(client, chain.table().name)
    chain.table().put_item(Item={"userId": coder_id, "DEVELOP": DEVELOP, "updatedAt": 1})
    assert published_profile(None, None) == ["member profile: no MemberStats item (not published yet)"]
    assert chain.run().success

    marathon = chain.settings.section(MarathonSettings)
    stats = read_items(client, marathon.member_stats_table, [coder_id])[coder_id]
    history = read_items(client, marathon.member_history_table, [coder_id])[coder_id]
    text = "\n".join(published_profile(stats, history))
    rank = json.loads(stats["DATA_SCIENCE"])["MARATHON_MATCH"]["rank"]
    assert f"handle {stats['handle']}" in text and "by mm_platform" in text
    for field in (
        "rating",
        "volatility",
        "rank",
        "percentile",
        "countryRank",
        "schoolRank",
        "defaultLanguage",
    ):
        assert f"{field} {rank[field]}" in text, field
    assert "other tracks kept as their writers left them: DEVELOP" in text
    rated = len(json.loads(history["DATA_SCIENCE"])["MARATHON_MATCH"]["history"])
    assert f"rating history (MemberHistoryStats): {rated} rated round(s)" in text


def test_the_trace_command_ends_with_the_published_profile(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert chain.run().success
    chain.settings.dagster_home.mkdir(parents=True)  # as the embedded stack leaves it
    marathon = chain.settings.section(MarathonSettings)
    for name, value in {
        "STATE_DIR": str(chain.settings.state_dir),
        "OLTP_DB_URL": chain.settings.oltp_db_url,
        "DW_DB_URL": chain.settings.dw_db_url,
        "PLATFORM_DB_URL": chain.settings.platform_db_url,
        "AWS_ENDPOINT_URL": chain.moto,
        "MEMBER_STATS_TABLE": marathon.member_stats_table,
        "MEMBER_HISTORY_TABLE": marathon.member_history_table,
    }.items():
        monkeypatch.setenv(f"MM_PLATFORM_{name}", value)
    coder_id = next(c for c, row in chain.lcr().items() if row[1] == 1)  # a rated member
    result = CliRunner().invoke(trace, [str(coder_id)])
    assert result.exit_code == 0, result.output
    assert f"member profile (MemberStats {coder_id}, updated" in result.output
    assert "rating history (MemberHistoryStats): 1 rated round(s)" in result.output
    # no DynamoDB: the rest of the trace still prints, the profile says why it is missing
    monkeypatch.setenv("MM_PLATFORM_AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    result = CliRunner().invoke(trace, [str(coder_id)])
    assert result.exit_code == 0, result.output
    assert f"round {SAMPLE_ROUND_ID}: attended=Y" in result.output
    assert "member profile: could not read DynamoDB" in result.output
