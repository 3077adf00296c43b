"""What rating a round may write to algo_rating (spec 9.3), pure: no Dagster, no I/O.

A round is rated from each coder's pre-round rating, captured once (the first run that sees the
coder) so that every later run of the same round rates from the same inputs. Re-running a round
must neither count a rating twice nor take a later round's rating away.

NUMERIC values are passed through as the database returns them (Decimal), so what is captured or
put back is exactly what was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

Numeric = Decimal | int  # a NUMERIC column's value


@dataclass(frozen=True)
class CurrentRating:
    """A coder's marathon algo_rating row as it stands."""

    rating: Numeric
    vol: Numeric
    num_ratings: Numeric
    round_id: Numeric | None  # the round the rating comes from


@dataclass(frozen=True)
class PreRoundRating:
    """A coder's algo_rating from before the round (a row of mmp_round_rating_input)."""

    coder_id: int
    had_rating_row: bool
    old_rating: Numeric | None
    old_vol: Numeric | None
    old_num_ratings: Numeric
    old_rating_round_id: Numeric | None


class AlgoRatingWrite(Enum):
    """What rating the round does to one attended coder's algo_rating row."""

    NEW_RATING = "new_rating"  # the round's new rating replaces the row
    KEEP_LATER_ROUND = "keep_later_round"  # a later round rated the coder: its row stays
    RESTORE_PRE_ROUND = "restore_pre_round"  # unrated now, rated by an earlier run: put the row back
    REMOVE = "remove"  # as above, but the coder had no row before the round
    NOTHING = "nothing"  # unrated, and no run of this round wrote the row


def _as_int(value: Numeric | None) -> int | None:
    return None if value is None else int(value)


def coders_to_capture(coder_ids: Iterable[int], captured: Iterable[int]) -> list[int]:
    """Attended coders whose pre-round rating is not captured yet (the round's first run, or a coder
    whose attendance came later), in attendance order."""
    known = set(captured)
    return [c for c in coder_ids if c not in known]


def pre_round_ratings(
    round_id: int, coder_ids: Iterable[int], current: Mapping[int, CurrentRating]
) -> list[PreRoundRating]:
    """The pre-round rating to capture for each coder: their current algo_rating row, or none.

    A rating that already comes from this round was written by a process that captured nothing, so
    its inputs are lost: refuse rather than rate the round on top of itself.
    """
    captured = []
    for coder_id in coder_ids:
        row = current.get(coder_id)
        if row is not None and _as_int(row.round_id) == round_id:
            raise RuntimeError(
                f"coder {coder_id}'s rating already comes from round {round_id} but its pre-round "
                "rating was never captured; restore algo_rating before rating this round"
            )
        captured.append(
            PreRoundRating(
                coder_id=coder_id,
                had_rating_row=row is not None,
                old_rating=None if row is None else row.rating,
                old_vol=None if row is None else row.vol,
                old_num_ratings=0 if row is None else row.num_ratings,
                old_rating_round_id=None if row is None else row.round_id,
            )
        )
    return captured


def algo_rating_write(
    round_id: int, rated: bool, rating_round_id: int | None, pre_round: PreRoundRating
) -> AlgoRatingWrite:
    """What the round writes to a coder's algo_rating, given whether this run rated the coder and
    the round the coder's current rating comes from (None: no rating row).

    The row is the round's to write while it holds no rating, the pre-round rating or this round's
    own (an earlier run). Any other round is a later one, rated on top of this round's result: it
    keeps its rating (the round's result is still written to long_comp_result).
    """
    ours = rating_round_id in (None, round_id, _as_int(pre_round.old_rating_round_id))
    if not ours:
        return AlgoRatingWrite.KEEP_LATER_ROUND
    if rated:
        return AlgoRatingWrite.NEW_RATING
    if rating_round_id != round_id:
        return AlgoRatingWrite.NOTHING
    # an earlier run rated the coder, this one does not: undo that run's rating
    return AlgoRatingWrite.RESTORE_PRE_ROUND if pre_round.had_rating_row else AlgoRatingWrite.REMOVE
