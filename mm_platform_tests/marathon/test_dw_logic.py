from __future__ import annotations

import datetime as dt

import pytest

from mm_platform.marathon.rules.dw_logic import (
    RANK_ACTIVE,
    RANK_OVERALL,
    STREAK_RATING_INCREASE,
    STREAK_RATING_INCREASE_NON_TOURNAMENT,
    STREAK_TOP5,
    STREAK_TOP10,
    GroupRankRow,
    HistoryEntry,
    Rebuild,
    Streak,
    StreakResult,
    competition_ranks,
    group_ranks,
    next_history,
    percentile,
    rank_snapshot,
    rating_id,
    rating_orders,
    reordered_rounds,
    rounds_to_rebuild,
    streaks,
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


def test_group_ranks_rank_within_each_group_and_rank_type() -> None:
    # 1..4 ranked overall; only 1 and 3 are active. 5 is in a group but not in the rank population,
    # 6 is ranked but has no group.
    population = [
        (1, RANK_OVERALL),
        (2, RANK_OVERALL),
        (3, RANK_OVERALL),
        (4, RANK_OVERALL),
        (6, RANK_OVERALL),
    ]
    population += [(1, RANK_ACTIVE), (3, RANK_ACTIVE)]
    ratings = {1: 1500, 2: 1800, 3: 1800, 4: 1200, 5: 3000, 6: 2000}
    group_of = {1: "POL", 2: "POL", 3: "POL", 4: "USA", 5: "POL", 6: None}
    rows = group_ranks(population, ratings, group_of)
    by_key = {(r.coder_id, r.rank_type): r for r in rows}
    assert set(by_key) == {(1, 1), (2, 1), (3, 1), (4, 1), (1, 2), (3, 2)}
    # ties share the better rank; percentile counts the group only
    assert by_key[(2, 1)] == GroupRankRow(2, RANK_OVERALL, "POL", 1, pytest.approx(200 / 3))
    assert by_key[(3, 1)] == GroupRankRow(3, RANK_OVERALL, "POL", 1, pytest.approx(200 / 3))
    assert by_key[(1, 1)] == GroupRankRow(1, RANK_OVERALL, "POL", 3, 0.0)
    assert by_key[(4, 1)] == GroupRankRow(4, RANK_OVERALL, "USA", 1, 0.0)
    # the active population is ranked on its own: 1 is second of two, not third
    assert by_key[(3, 2)] == GroupRankRow(3, RANK_ACTIVE, "POL", 1, 50.0)
    assert by_key[(1, 2)] == GroupRankRow(1, RANK_ACTIVE, "POL", 2, 0.0)


def test_group_ranks_take_integer_groups_and_nothing_without_a_group() -> None:
    rows = group_ranks([(1, RANK_OVERALL), (2, RANK_OVERALL)], {1: 1000, 2: 900}, {1: 1001})
    assert rows == [GroupRankRow(1, RANK_OVERALL, 1001, 1, 0.0)]
    assert group_ranks([], {}, {}) == []


def _result(
    round_id: int,
    *,
    old: int | None = None,
    new: int | None = None,
    placed: int | None = None,
    attended: bool = True,
    rated: bool = True,
    tournament: bool = False,
    coder_id: int = 7,
) -> StreakResult:
    return StreakResult(
        coder_id=coder_id,
        round_id=round_id,
        round_type_id=19 if tournament else 13,
        start_date=dt.datetime(2024, 1, 1) + dt.timedelta(days=round_id),
        attended=attended,
        placed=placed,
        rated=rated and new is not None,
        old_rating=old,
        new_rating=new,
    )


def _of_type(found: list[Streak], streak_type: int) -> list[tuple[int, int, int, bool]]:
    return [
        (s.start_round_id, s.end_round_id, s.length, s.is_current)
        for s in found
        if s.streak_type_id == streak_type
    ]


def test_rating_streaks_break_on_a_non_increase_and_skip_unrated_rounds() -> None:
    results = [
        _result(1, old=None, new=1200),  # a first rating is no increase
        _result(2, old=1200, new=1300),
        _result(3, old=1300, new=1350),
        _result(4, new=None, rated=False),  # not rated: neither extends nor breaks
        _result(5, old=1350, new=1400),
        _result(6, old=1400, new=1400),  # equal: breaks
        _result(7, old=1400, new=1500),  # a run of 1 is no streak
        _result(8, old=1500, new=1450),
        _result(9, old=0, new=1600),  # old rating 0 is no increase
        _result(10, old=1600, new=1700),
        _result(11, old=1700, new=1800),
    ]
    found = streaks(reversed(results))  # the rule orders by round start itself
    assert _of_type(found, STREAK_RATING_INCREASE) == [(2, 5, 3, False), (10, 11, 2, True)]
    assert _of_type(found, STREAK_RATING_INCREASE_NON_TOURNAMENT) == [(2, 5, 3, False), (10, 11, 2, True)]


def test_tournament_rounds_count_for_type_8_but_are_not_considered_for_type_9() -> None:
    results = [
        _result(1, old=1000, new=1100),
        _result(2, old=1100, new=1050, tournament=True),  # a drop in a tournament round
        _result(3, old=1050, new=1200),
        _result(4, old=1200, new=1300, tournament=True),
    ]
    found = streaks(results)
    # all rounds: 1 | drop | 3, 4 (current); non-tournament only: 1, 3 (the last type-13 round: current)
    assert _of_type(found, STREAK_RATING_INCREASE) == [(3, 4, 2, True)]
    assert _of_type(found, STREAK_RATING_INCREASE_NON_TOURNAMENT) == [(1, 3, 2, True)]


def test_placement_streaks_skip_unattended_rounds() -> None:
    results = [
        _result(1, placed=3),
        _result(2, placed=5),
        _result(3, placed=None, attended=False),  # skipped, does not break
        _result(4, placed=8),
        _result(5, placed=2),
        _result(6, placed=11),
        _result(7, placed=1),
        _result(8, placed=4),
    ]
    found = streaks(results)
    assert _of_type(found, STREAK_TOP5) == [(1, 2, 2, False), (7, 8, 2, True)]
    assert _of_type(found, STREAK_TOP10) == [(1, 5, 4, False), (7, 8, 2, True)]


def test_a_run_ending_before_the_last_considered_round_is_not_current() -> None:
    results = [_result(1, placed=1), _result(2, placed=2), _result(3, placed=30)]
    found = streaks(results)
    assert _of_type(found, STREAK_TOP5) == [(1, 2, 2, False)]
    # an unattended last round does not end a current run
    found = streaks([*results[:2], _result(3, placed=None, attended=False)])
    assert _of_type(found, STREAK_TOP5) == [(1, 2, 2, True)]


def test_streaks_are_per_coder() -> None:
    results = [
        _result(1, placed=1, coder_id=1),
        _result(2, placed=1, coder_id=2),
        _result(3, placed=1, coder_id=1),
    ]
    found = streaks(results)
    assert [(s.coder_id, s.streak_type_id, s.start_round_id, s.end_round_id) for s in found] == [
        (1, STREAK_TOP5, 1, 3),
        (1, STREAK_TOP10, 1, 3),
    ]
