"""The round's whole chain in one run: attendance -> ratings -> DW -> member stats -> search,
on SQLite and PostgreSQL, with DynamoDB on moto's server."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import replace

import pandas as pd
import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    evaluate_automation_conditions,
)
from sqlalchemy import select, update

from mm_platform.core.devstack import free_port
from mm_platform.core.inbox import EventInbox
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.marathon.defs import dw_assets
from mm_platform.marathon.dev.demo import ChainWait, seed_demo_round, summary, timeline
from mm_platform.marathon.dev.sample_data import SAMPLE_ROUND_ID
from mm_platform.marathon.dev.trace import CHAIN, trace_member
from mm_platform.marathon.rules.ratings import rate_round
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import schema as oltp
from mm_platform.marathon.stores.dw_load import round_coder_ids
from mm_platform_tests.marathon.chain import Chain, insert_test_round, metadata_of

# this code location's other domains have automation conditions of their own
MARATHON = AssetSelection.groups("marathon")


def test_one_run_rates_the_round_and_publishes_member_profiles(chain: Chain) -> None:
    before = chain.algo_ratings()
    result = chain.run()
    assert result.success
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert done == {
        "long_comp_result_attendance",
        "round_ratings",
        "dw_coders",
        "dw_mm_ratings",
        "member_stats",
        "member_search_index",
    }
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert len(result.get_asset_check_evaluations()) == 4

    lcr = chain.lcr()
    attended = {c for c, row in lcr.items() if row[0] == "Y"}
    assert len(attended) == 31
    # every attended coder rated, with the engine's numbers for the pre-round ratings
    expected = rate_round(
        pd.DataFrame(
            [
                {
                    "coder_id": c,
                    "old_rating": before[c][0] if c in before else None,
                    "old_vol": before[c][1] if c in before else None,
                    "num_ratings": before[c][2] if c in before else 0,
                    "score": float(score),
                }
                for c, score in _scores(chain, attended).items()
            ]
        )
    ).set_index("coder_id")
    for coder_id in attended:
        _, rated_ind, new_rating, new_vol, old_rating, _ = lcr[coder_id]
        assert rated_ind == 1
        assert (int(new_rating), int(new_vol)) == (
            expected.loc[coder_id].new_rating,
            expected.loc[coder_id].new_vol,
        )
        assert old_rating == (before[coder_id][0] if coder_id in before else None)
        rating, vol, num_ratings, round_id = chain.algo_ratings()[coder_id]
        assert (rating, vol, round_id) == (int(new_rating), int(new_vol), SAMPLE_ROUND_ID)
        assert num_ratings == (before[coder_id][2] + 1 if coder_id in before else 1)
    assert all(row[1] == 0 and row[2] is None for c, row in lcr.items() if c not in attended)
    with chain.oltp.connect() as conn:
        assert (
            conn.execute(
                select(oltp.round_.c.rated_ind).where(oltp.round_.c.round_id == SAMPLE_ROUND_ID)
            ).scalar_one()
            == 1
        )

    # the warehouse
    with chain.dw.connect() as conn:
        dw_round = conn.execute(select(dw.round_)).one()
        assert (dw_round.round_id, dw_round.rating_order, dw_round.rated_ind) == (SAMPLE_ROUND_ID, 1, 1)
        history = {r.coder_id: r for r in conn.execute(select(dw.algo_rating_history))}
        assert set(history) == attended
        ranks = {(r.coder_id, r.coder_rank_type_id): r for r in conn.execute(select(dw.coder_rank))}
        top = max(attended, key=lambda c: history[c].rating)
        assert ranks[(top, 1)].rank == 1 and ranks[(top, 1)].percentile == pytest.approx(100 * 30 / 31)
        summaries = {
            r.coder_id: r
            for r in conn.execute(select(dw.algo_rating).where(dw.algo_rating.c.algo_rating_type_id == 3))
        }
        assert all(summaries[c].num_competitions == 1 for c in attended)
        documents = {r.coder_id: r.document for r in conn.execute(select(dw.member_search_document))}

    # DynamoDB items and search documents for every member of the round
    items = chain.stats_items()
    assert set(items) == set(lcr)
    some = min(attended)
    marathon = chain.marathon_block(some)
    assert marathon["rank"]["rating"] == int(lcr[some][2])
    assert marathon["challenges"] == 1  # the rounds the DW holds; competitions: every rated one
    assert marathon["rank"]["competitions"] == chain.algo_ratings()[some][2]
    rated_rounds = chain.marathon_block(some, history=True)["history"]
    assert [h["challengeId"] for h in rated_rounds] == [SAMPLE_ROUND_ID]
    winner = next(c for c in attended if _placed(chain, c) == 1)
    assert chain.marathon_block(winner)["wins"] == 1
    assert set(documents) == set(lcr)
    assert documents[some]["DATA_SCIENCE"]["MARATHON_MATCH"]["rank"]["rating"] == int(lcr[some][2])
    assert documents[some]["handle"] == items[some]["handle"]


def test_re_materializing_the_round_gives_identical_results(chain: Chain) -> None:
    assert chain.run().success
    lcr, ratings = chain.lcr(), chain.algo_ratings()
    with chain.dw.connect() as conn:
        history = sorted(tuple(r) for r in conn.execute(select(dw.algo_rating_history)))
    again = chain.run()
    assert again.success
    assert chain.lcr() == lcr
    assert chain.algo_ratings() == ratings  # num_ratings not incremented twice
    with chain.dw.connect() as conn:
        assert sorted(tuple(r) for r in conn.execute(select(dw.algo_rating_history))) == history
    assert (
        metadata_of(again, "round_ratings")["result_fingerprint"]
        == metadata_of(again, "round_ratings")["result_fingerprint"]
    )


def test_a_late_attendee_is_rated_with_the_whole_field_again(chain: Chain) -> None:
    before = chain.algo_ratings()
    assert chain.run().success
    first, ratings = chain.lcr(), chain.algo_ratings()
    # a final score arrives late for a coder whose latest submission had none
    late = 20_000_007
    with chain.oltp.begin() as conn:
        conn.execute(
            update(oltp.submission).where(oltp.submission.c.member_id == late).values(final_score=55.5)
        )
    assert chain.run().success
    second = chain.lcr()
    assert second[late][0] == "Y" and second[late][1] == 1
    # the field changed, so the round was re-derived from the same pre-round ratings: nobody's
    # rating count moved twice, and the late coder counts this round once
    assert chain.algo_ratings()[late][2] == before.get(late, (0, 0, 0))[2] + 1
    assert all(ratings[c][2] == chain.algo_ratings()[c][2] for c in ratings)
    assert sum(1 for r in second.values() if r[1] == 1) == sum(1 for r in first.values() if r[1] == 1) + 1


def test_rounds_loaded_out_of_order_keep_the_history_in_rating_order(chain: Chain) -> None:
    earlier, later = 990201, 990202
    with chain.oltp.begin() as conn:
        for round_id, month, seed in ((earlier, 1, 1), (later, 6, 2)):
            insert_test_round(
                conn, round_id, dt.datetime(2023, month, 1), coders=12, seed=seed, coder_id_base=30_000_000
            )
    assert chain.run(later).success
    assert chain.run(earlier).success  # the older round arrives second
    with chain.dw.connect() as conn:
        orders = dict(conn.execute(select(dw.round_.c.round_id, dw.round_.c.rating_order)).all())
        assert orders[earlier] < orders[later]
        history = {
            (r.round_id, r.coder_id): r.num_ratings for r in conn.execute(select(dw.algo_rating_history))
        }
        current = {
            (r.coder_id, r.coder_rank_type_id): r.round_id for r in conn.execute(select(dw.coder_rank))
        }
    # a coder rated in both rounds has num_ratings 1 after the earlier and 2 after the later round
    both = [c for (r, c) in history if r == earlier and (later, c) in history]
    assert both
    for coder_id in both:
        assert history[(earlier, coder_id)] < history[(later, coder_id)]
    assert set(current.values()) == {later}  # current ranks are those of the latest round


def test_a_later_round_republishes_the_ranks_it_moved_whatever_the_order(chain: Chain) -> None:
    """Loading a round re-ranks every coder, not only its own: member stats and search documents of
    an earlier round's coders must show the ranks of the DW, whichever round ran first."""
    other = 990301
    with chain.oltp.begin() as conn:
        # coders of their own: the sample round's coders are only re-ranked
        insert_test_round(conn, other, dt.datetime(2024, 5, 1), coders=25, seed=5, coder_id_base=31_000_000)
    assert chain.run().success
    published = chain.stats_items()
    before = {c: chain.marathon_block(c)["rank"] for c in chain.lcr() if c in published}
    assert chain.run(other).success

    with chain.dw.connect() as conn:
        ranks = {
            (r.coder_id, r.coder_rank_type_id): (r.rank, r.percentile)
            for r in conn.execute(select(dw.coder_rank))
        }
        documents = {r.coder_id: r.document for r in conn.execute(select(dw.member_search_document))}
    items = chain.stats_items()
    moved = [c for c in before if before[c].get("rank") != ranks.get((c, 1), (None,))[0]]
    assert moved, "the second round should move some of the first round's ranks"
    for (coder, kind), (rank, percentile) in ranks.items():
        if kind == 1:
            published_rank = json.loads(items[coder]["DATA_SCIENCE"])["MARATHON_MATCH"]["rank"]
            published = (published_rank["rank"], published_rank["percentile"])
            assert published == (rank, round(percentile, 2)), coder
            assert documents[coder]["DATA_SCIENCE"]["MARATHON_MATCH"]["rank"]["rank"] == rank, coder
    # nothing moved since: a re-run republishes only the round's own members
    result = chain.materialize_only("member_stats", other)
    [stats] = [m for m in result.get_asset_materialization_events()]
    assert stats.materialization.metadata["reranked_members"].value == 0


def test_a_failure_shows_at_the_asset_that_failed(chain: Chain) -> None:
    """DynamoDB is down: the run fails at member_stats; everything upstream is materialized."""
    down = replace(chain.settings, aws_endpoint_url=f"http://127.0.0.1:{free_port()}")
    chain.defs = build_definitions(down)
    result = chain.run()
    assert not result.success
    assert {e.step_key for e in result.get_step_failure_events()} == {"marathon__member_stats"}
    error = result.get_step_failure_events()[0].event_specific_data.error
    assert "Could not connect to the endpoint URL" in error.to_string()
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert materialized == {"long_comp_result_attendance", "round_ratings", "dw_coders", "dw_mm_ratings"}
    # and `mm-platform trace` points an operator at it
    inbox = EventInbox(engine_for(chain.settings.platform_db_url))
    inbox.create_schema()
    _, [round_trace] = trace_member(
        20_000_000,
        chain.oltp,
        inbox,
        chain.instance,
        chain.settings.section(MarathonSettings).topics.autopilot,
    )
    assert round_trace.problem == f"the latest run {result.run_id[:8]} failed at marathon__member_stats"
    assert [s.verdict for s in round_trace.steps][-2:] == ["missing", "missing"]


def _scores(chain: Chain, coder_ids: set[int]) -> dict[int, float]:
    with chain.oltp.connect() as conn:
        rows = conn.execute(
            select(oltp.long_comp_result.c.coder_id, oltp.long_comp_result.c.system_point_total).where(
                oltp.long_comp_result.c.round_id == SAMPLE_ROUND_ID
            )
        )
        return {c: float(s) for c, s in rows if c in coder_ids}


def _placed(chain: Chain, coder_id: int) -> int:
    with chain.oltp.connect() as conn:
        return conn.execute(
            select(oltp.long_comp_result.c.placed).where(
                oltp.long_comp_result.c.round_id == SAMPLE_ROUND_ID,
                oltp.long_comp_result.c.coder_id == coder_id,
            )
        ).scalar_one()


def test_a_manual_upstream_re_materialization_propagates_downstream(chain: Chain) -> None:
    assert chain.run().success
    first = evaluate_automation_conditions(defs=chain.defs, instance=chain.instance, asset_selection=MARATHON)
    assert first.total_requested == 0  # everything is up to date after the sensor's run
    # an operator re-materializes round_ratings for the round from the UI
    assert chain.materialize_only("round_ratings").success
    after = evaluate_automation_conditions(
        defs=chain.defs, instance=chain.instance, asset_selection=MARATHON, cursor=first.cursor
    )
    requested = {r.key.path[-1] for r in after.results if r.true_subset.size > 0}
    assert {"dw_coders", "dw_mm_ratings"} <= requested
    assert "long_comp_result_attendance" not in requested


def test_automation_leaves_a_round_alone_while_its_run_is_in_flight(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An automation tick while the round's own run is half way (round_ratings done, the DW loads to
    come) requests nothing for the round, and nothing after the run either: the run covers it all."""
    assert chain.run().success
    before = evaluate_automation_conditions(
        defs=chain.defs, instance=chain.instance, asset_selection=MARATHON
    )
    reached, release = threading.Event(), threading.Event()
    load_coders = dw_assets.load_coders

    def paused_load_coders(*args, **kwargs):
        reached.set()
        assert release.wait(120), "the test never released the run"
        return load_coders(*args, **kwargs)

    monkeypatch.setattr(dw_assets, "load_coders", paused_load_coders)
    results: list = []
    run = threading.Thread(target=lambda: results.append(chain.run()))
    run.start()
    try:
        assert reached.wait(120), "the run never reached dw_coders"
        during = evaluate_automation_conditions(
            defs=chain.defs, instance=chain.instance, asset_selection=MARATHON, cursor=before.cursor
        )
        assert during.total_requested == 0
    finally:
        release.set()
        run.join(120)
    assert results and results[0].success
    after = evaluate_automation_conditions(
        defs=chain.defs, instance=chain.instance, asset_selection=MARATHON, cursor=during.cursor
    )
    assert after.total_requested == 0
    # and the chain reached its end in that run: member stats are newer than the ratings load
    stats, loads = (
        chain.instance.fetch_materializations(
            AssetRecordsFilter(
                asset_key=AssetKey(["marathon", name]), asset_partitions=[str(SAMPLE_ROUND_ID)]
            ),
            limit=1,
        ).records[0]
        for name in ("member_stats", "dw_mm_ratings")
    )
    assert stats.storage_id > loads.storage_id


def test_an_operator_update_landing_with_the_rounds_own_run_still_propagates(chain: Chain) -> None:
    """The round's own run and an operator's re-materialization of round_ratings fall between the
    same two automation ticks (the daemon test's order: the event is HANDLED, the operator acts).
    The downstream assets' own updates from the round's run must not cancel the operator's."""
    assert chain.run().success
    first = evaluate_automation_conditions(defs=chain.defs, instance=chain.instance, asset_selection=MARATHON)
    assert chain.run().success  # the round's next review-END event
    assert chain.materialize_only("round_ratings").success
    after = evaluate_automation_conditions(
        defs=chain.defs, instance=chain.instance, asset_selection=MARATHON, cursor=first.cursor
    )
    requested = {r.key.path[-1] for r in after.results if r.true_subset.size > 0}
    assert requested == {"dw_coders", "dw_mm_ratings", "member_stats", "member_search_index"}

    # once the requested run has materialized them, nothing is requested again
    assert chain.materialize(requested).success
    settled = evaluate_automation_conditions(
        defs=chain.defs, instance=chain.instance, asset_selection=MARATHON, cursor=after.cursor
    )
    assert settled.total_requested == 0


def test_trace_names_the_stale_step_and_the_events(chain: Chain) -> None:
    assert chain.run().success
    inbox = EventInbox(engine_for(chain.settings.platform_db_url))
    inbox.create_schema()
    member, rounds = trace_member(
        20_000_000,
        chain.oltp,
        inbox,
        chain.instance,
        chain.settings.section(MarathonSettings).topics.autopilot,
    )
    assert member["handle"] == "mm_coder_000"
    [round_trace] = rounds
    assert [s.verdict for s in round_trace.steps] == ["ok"] * 6
    assert round_trace.problem is None
    # round_ratings is re-materialized alone: everything after it is now stale
    assert chain.materialize_only("round_ratings").success
    _, [round_trace] = trace_member(
        20_000_000,
        chain.oltp,
        inbox,
        chain.instance,
        chain.settings.section(MarathonSettings).topics.autopilot,
    )
    assert [s.verdict for s in round_trace.steps][1:3] == ["ok", "stale"]
    assert round_trace.problem == "dw_coders is stale"


def test_trace_says_why_a_registered_member_has_no_result(chain: Chain) -> None:
    assert chain.run().success
    inbox = EventInbox(engine_for(chain.settings.platform_db_url))
    inbox.create_schema()
    topic = chain.settings.section(MarathonSettings).topics.autopilot
    # the sample round: 20000038 made a final submission but has no long_comp_result row,
    # 20000005 registered and never submitted
    _, [final_without_row] = trace_member(20_000_038, chain.oltp, inbox, chain.instance, topic)
    assert final_without_row.round_id == SAMPLE_ROUND_ID
    assert "a final submission but no long_comp_result row" in (final_without_row.problem or "")
    _, [never] = trace_member(20_000_005, chain.oltp, inbox, chain.instance, topic)
    assert "never submitted" in (never.problem or "")


def test_demo_round_summary_and_timeline(chain: Chain) -> None:
    demo = seed_demo_round(chain.oltp, coders=120)
    published_at = time.time()
    assert chain.run(demo.round_id).success
    with chain.oltp.connect() as conn:
        members = round_coder_ids(conn, demo.round_id)
    stats = chain.stats_items()
    lines = summary(chain.oltp, chain.dw, demo, {c: stats[c] for c in members if c in stats})
    assert lines[0].startswith(
        f"round {demo.round_id} (legacy project {demo.project_id}): {len(members)} results"
    )
    assert f"member stats items (DynamoDB) for the round's members: {len(members)}" in lines[1]
    assert len(lines) == 4 + 10  # header lines and the top ten places
    with chain.oltp.connect() as conn:
        places = conn.execute(
            select(oltp.long_comp_result.c.placed, oltp.long_comp_result.c.rated_ind)
            .where(
                oltp.long_comp_result.c.round_id == demo.round_id, oltp.long_comp_result.c.placed.is_not(None)
            )
            .order_by(oltp.long_comp_result.c.placed)
            .limit(10)
        ).all()
    unrated = [p for p, rated in places if int(rated or 0) != 1]
    assert sum("(not attended" in line or "left unrated)" in line for line in lines[4:]) == len(unrated)

    # where the seconds went: the run, then each asset of the chain in order
    wait = ChainWait(True, seen={"HANDLED": time.time()})
    marks = [line.split("s  ", 1)[1] for line in timeline(chain.instance, wait, published_at, demo.round_id)]
    assert marks[0].startswith("run ") and marks[0].endswith(" created")
    assert [m for m in marks if m in CHAIN] == CHAIN
    assert marks[-1] == "event HANDLED (seen by this command)"


def test_a_round_with_a_single_attendee_stays_unrated_through_the_chain(chain: Chain) -> None:
    """Decision 9.2 end to end: nobody is rated, the round is not rated, the DW has no rating order
    for it, and the check explains the unrated attendee instead of failing."""
    round_id = 990301
    with chain.oltp.begin() as conn:
        insert_test_round(conn, round_id, dt.datetime(2024, 2, 1), coders=3, seed=5, coder_id_base=31_000_000)
        conn.execute(
            update(oltp.submission)
            .where(
                oltp.submission.c.member_id != 31_000_000,
                oltp.submission.c.project_id == 40_000_000 + round_id,
            )
            .values(final_score=None)
        )
    result = chain.run(round_id)
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    ratings = metadata_of(result, "round_ratings")
    assert (ratings["attended"], ratings["rated_total"], ratings["unrated_single_coder_pass"]) == (1, 0, 1)
    lcr = chain.lcr(round_id)
    assert lcr[31_000_000][:3] == ("Y", 0, None)
    with chain.oltp.connect() as conn:
        assert (
            conn.execute(
                select(oltp.round_.c.rated_ind).where(oltp.round_.c.round_id == round_id)
            ).scalar_one()
            == 0
        )
    with chain.dw.connect() as conn:
        row = conn.execute(select(dw.round_).where(dw.round_.c.round_id == round_id)).one()
        assert (row.rated_ind, row.rating_order) == (0, None)
        nums = (
            conn.execute(
                select(dw.long_comp_result.c.num_ratings).where(dw.long_comp_result.c.round_id == round_id)
            )
            .scalars()
            .all()
        )
        assert nums and all(n is not None for n in nums)
