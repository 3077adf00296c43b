from __future__ import annotations

import datetime as dt

import pytest

from mm_platform.marathon.rules.dw_logic import (
    RANK_ACTIVE,
    RANK_OVERALL,
    HistoryEntry,
    Rebuild,
    competition_ranks,
    next_history,
    percentile,
    rank_snapshot,
    rating_id,
    rating_orders,
    reordered_rounds,
    rounds_to_rebuild,
)


def test_competition_ranks_share_the_better_rank() -> None:
    assert competition_ranks([10, 30, 30, 20, 5]) == [4, 1, 1, 3, 5]
    assert competition_ranks([1.0, 1.0, 1.0]) == [1, 1, 1]
    assert competition_ranks([3, 1, 2], descending=False) == [3, 1, 2]
    assert competition_ranks([]) == []


def test_percentile_and_rating_ids() -> None:
    assert percentile(1, 4) == 75.0
    assert percentile(4, 4) == 0.0
    assert [rating_id(v) for v in (None, 0, 1500)] == [-2, -2, 1500]


def test_history_keeps_everyone_and_counts_ratings() -> None:
    previous = {1: HistoryEntry(1500, 300, 3), 2: HistoryEntry(1200, 400, 1)}
    after = next_history(previous, [(1, 1550, 290), (3, 1100, 385)])
    assert after == {
        1: HistoryEntry(1550, 290, 4),
        2: HistoryEntry(1200, 400, 1),
        3: HistoryEntry(1100, 385, 1),
    }
    assert previous[1] == HistoryEntry(1500, 300, 3)  # not changed in place


def test_rank_snapshot_ranks_rated_eligible_coders_overall_and_active() -> None:
    history = {
        1: HistoryEntry(2000, 1, 2),
        2: HistoryEntry(1800, 1, 1),
        3: HistoryEntry(1800, 1, 5),
        4: HistoryEntry(2500, 1, 0),
        5: HistoryEntry(900, 1, 3),
    }
    rows = rank_snapshot(history, ranked_coders=[1, 2, 3, 4], active_coders=[2, 3])
    overall = {r.coder_id: (r.rank, r.percentile) for r in rows if r.rank_type == RANK_OVERALL}
    active = {r.coder_id: (r.rank, r.percentile) for r in rows if r.rank_type == RANK_ACTIVE}
    # 4 has no rating yet (num_ratings 0) and 5 is not rankable (status not 'A')
    assert overall == {
        1: (1, pytest.approx(200 / 3)),
        2: (2, pytest.approx(100 / 3)),
        3: (2, pytest.approx(100 / 3)),
    }
    assert active == {2: (1, 50.0), 3: (1, 50.0)}


def test_rating_orders_follow_start_date_then_round_id_and_skip_unrated_rounds() -> None:
    rounds = [
        (30, dt.datetime(2024, 3, 1), True),
        (10, dt.datetime(2024, 1, 1), True),
        (20, dt.datetime(2024, 2, 1), False),
        (25, dt.datetime(2024, 3, 1), True),
        (5, None, True),
    ]
    assert rating_orders(rounds) == {5: 1, 10: 2, 20: None, 25: 3, 30: 4}


def test_reordered_rounds_are_those_whose_rating_order_changed() -> None:
    orders = {10: 1, 15: None, 20: 2, 30: 3}
    stored = {30: 2, 10: 1, 15: None, 20: None}  # 20 is new and older than 30
    assert reordered_rounds(orders, stored) == [30, 20]
    assert reordered_rounds(orders, orders) == []


def test_the_first_rated_round_rebuilds_from_nothing() -> None:
    assert rounds_to_rebuild(10, {10: 1}, {10: None}) == Rebuild(round_ids=[10], seed_round_id=None)


def test_a_round_loaded_in_order_rebuilds_itself_from_the_round_before() -> None:
    rebuild = rounds_to_rebuild(20, {10: 1, 20: 2}, {10: 1, 20: None})
    assert rebuild == Rebuild(round_ids=[20], seed_round_id=10)


def test_reloading_a_round_rebuilds_it_and_every_later_round() -> None:
    orders = {10: 1, 20: 2, 30: 3}
    assert rounds_to_rebuild(20, orders, orders) == Rebuild(round_ids=[20, 30], seed_round_id=10)
    assert rounds_to_rebuild(10, orders, orders) == Rebuild(round_ids=[10, 20, 30], seed_round_id=None)


def test_an_older_round_loaded_after_newer_ones_rebuilds_the_newer_ones() -> None:
    loaded = [
        (5, dt.datetime(2023, 1, 1), True),
        (30, dt.datetime(2023, 6, 1), True),
        (20, dt.datetime(2023, 3, 1), True),  # arrives after 30
    ]
    stored = {5: 1, 30: 2, 20: None}
    orders = rating_orders(loaded)
    assert orders == {5: 1, 20: 2, 30: 3}
    assert rounds_to_rebuild(20, orders, stored) == Rebuild(round_ids=[20, 30], seed_round_id=5)


def test_an_earlier_reordered_round_wins_over_the_loaded_one() -> None:
    # 15 became rated and sits before 20 and 30; 30 is the round being loaded
    orders = {10: 1, 15: 2, 20: 3, 30: 4}
    stored = {10: 1, 15: None, 20: 2, 30: 3}
    assert rounds_to_rebuild(30, orders, stored) == Rebuild(round_ids=[15, 20, 30], seed_round_id=10)


def test_an_unrated_round_that_moves_nothing_rebuilds_nothing() -> None:
    orders = {10: 1, 15: None}
    assert rounds_to_rebuild(15, orders, orders) == Rebuild(round_ids=[], seed_round_id=None)
    assert rounds_to_rebuild(15, {15: None}, {15: None}) == Rebuild(round_ids=[], seed_round_id=None)


def test_a_round_no_longer_rated_rebuilds_the_rounds_after_it() -> None:
    orders = {10: 1, 15: None, 20: 2}
    stored = {10: 1, 15: 2, 20: 3}
    assert rounds_to_rebuild(15, orders, stored) == Rebuild(round_ids=[20], seed_round_id=10)
