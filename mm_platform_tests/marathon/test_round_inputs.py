from __future__ import annotations

from decimal import Decimal

import pytest

from mm_platform.marathon.rules.round_inputs import (
    AlgoRatingWrite,
    CurrentRating,
    PreRoundRating,
    algo_rating_write,
    coders_to_capture,
    pre_round_ratings,
)

ROUND = 500
EARLIER_ROUND = 400
LATER_ROUND = 600


def captured(old_rating_round_id: int | Decimal | None = EARLIER_ROUND) -> PreRoundRating:
    """A coder who had a rating before the round (from `old_rating_round_id`)."""
    return PreRoundRating(
        coder_id=1,
        had_rating_row=True,
        old_rating=Decimal(1500),
        old_vol=Decimal(300),
        old_num_ratings=Decimal(4),
        old_rating_round_id=old_rating_round_id,
    )


NEW_CODER = PreRoundRating(
    coder_id=2,
    had_rating_row=False,
    old_rating=None,
    old_vol=None,
    old_num_ratings=0,
    old_rating_round_id=None,
)


def test_the_first_run_captures_every_attended_coder_in_attendance_order() -> None:
    assert coders_to_capture([7, 3, 5], captured=[]) == [7, 3, 5]


def test_a_later_run_captures_only_late_attendees() -> None:
    assert coders_to_capture([7, 3, 5, 9], captured={3, 7}) == [5, 9]
    assert coders_to_capture([7, 3], captured=[3, 7]) == []


def test_pre_round_ratings_keep_the_current_row_as_read() -> None:
    current = {1: CurrentRating(Decimal(1500), Decimal(300), Decimal(4), Decimal(EARLIER_ROUND))}
    assert pre_round_ratings(ROUND, [1, 2], current) == [
        PreRoundRating(
            coder_id=1,
            had_rating_row=True,
            old_rating=Decimal(1500),
            old_vol=Decimal(300),
            old_num_ratings=Decimal(4),
            old_rating_round_id=Decimal(EARLIER_ROUND),
        ),
        NEW_CODER,  # no algo_rating row: nothing to restore, no earlier ratings
    ]


def test_a_rating_from_a_later_round_is_captured_as_it_is() -> None:
    current = {1: CurrentRating(1600, 280, 5, LATER_ROUND)}
    [pre_round] = pre_round_ratings(ROUND, [1], current)
    assert (pre_round.old_rating, pre_round.old_rating_round_id) == (1600, LATER_ROUND)


def test_a_rating_already_from_this_round_without_a_capture_is_refused() -> None:
    current = {
        1: CurrentRating(1500, 300, 4, EARLIER_ROUND),
        3: CurrentRating(1450, 310, 2, Decimal(ROUND)),  # NUMERIC as read: compared as an int
    }
    message = (
        f"coder 3's rating already comes from round {ROUND} but its pre-round rating was never "
        "captured; restore algo_rating before rating this round"
    )
    with pytest.raises(RuntimeError) as raised:
        pre_round_ratings(ROUND, [1, 2, 3], current)
    assert str(raised.value) == message


def test_the_first_rating_of_a_coder_writes_the_new_rating() -> None:
    assert algo_rating_write(ROUND, True, None, NEW_CODER) is AlgoRatingWrite.NEW_RATING


def test_a_coder_still_on_the_pre_round_rating_gets_the_new_rating() -> None:
    assert algo_rating_write(ROUND, True, EARLIER_ROUND, captured()) is AlgoRatingWrite.NEW_RATING
    # the captured round id is NUMERIC as read
    pre_round = captured(Decimal(EARLIER_ROUND))
    assert algo_rating_write(ROUND, True, EARLIER_ROUND, pre_round) is AlgoRatingWrite.NEW_RATING


def test_re_rating_the_same_round_overwrites_its_own_rating() -> None:
    assert algo_rating_write(ROUND, True, ROUND, captured()) is AlgoRatingWrite.NEW_RATING
    assert algo_rating_write(ROUND, True, ROUND, NEW_CODER) is AlgoRatingWrite.NEW_RATING


@pytest.mark.parametrize("rated", [True, False])
def test_a_rating_from_a_later_round_is_kept(rated: bool) -> None:
    assert algo_rating_write(ROUND, rated, LATER_ROUND, captured()) is AlgoRatingWrite.KEEP_LATER_ROUND
    assert algo_rating_write(ROUND, rated, LATER_ROUND, NEW_CODER) is AlgoRatingWrite.KEEP_LATER_ROUND


def test_any_round_but_this_one_or_the_pre_round_one_counts_as_later() -> None:
    assert algo_rating_write(ROUND, True, 300, captured()) is AlgoRatingWrite.KEEP_LATER_ROUND


def test_a_coder_unrated_now_but_rated_by_an_earlier_run_gets_the_pre_round_row_back() -> None:
    assert algo_rating_write(ROUND, False, ROUND, captured()) is AlgoRatingWrite.RESTORE_PRE_ROUND


def test_a_new_coder_unrated_now_but_rated_by_an_earlier_run_loses_the_row() -> None:
    assert algo_rating_write(ROUND, False, ROUND, NEW_CODER) is AlgoRatingWrite.REMOVE


def test_an_unrated_coder_no_run_rated_is_left_alone() -> None:
    assert algo_rating_write(ROUND, False, None, NEW_CODER) is AlgoRatingWrite.NOTHING
    assert algo_rating_write(ROUND, False, EARLIER_ROUND, captured()) is AlgoRatingWrite.NOTHING
