"""Warehouse rules of the marathon loads (spec 2.5), pure: no Dagster, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

NO_RATING_ID = -2  # DW old_rating_id/new_rating_id when there is no rating
ACTIVE_DAYS = 180  # "active" = an attended, rated marathon in the 180 days up to the round
RANK_OVERALL = 1
RANK_ACTIVE = 2


def rating_id(value: int | None) -> int:
    return NO_RATING_ID if value in (None, 0) else int(value)


def competition_ranks(values: Sequence[float], descending: bool = True) -> list[int]:
    """1, 2, 2, 4 ... (equal values share the better rank) in the order of `values`."""
    order = sorted(range(len(values)), key=lambda i: -values[i] if descending else values[i])
    ranks = [0] * len(values)
    for position, i in enumerate(order):
        previous = order[position - 1] if position else None
        ranks[i] = ranks[previous] if previous is not None and values[previous] == values[i] else position + 1
    return ranks


def percentile(rank: int, count: int) -> float:
    return 100.0 * (count - rank) / count


@dataclass(frozen=True)
class HistoryEntry:
    rating: int
    vol: int
    num_ratings: int


def next_history(
    previous: Mapping[int, HistoryEntry], rated: Iterable[tuple[int, int, int]]
) -> dict[int, HistoryEntry]:
    """The rating snapshot after a round: every coder of the previous snapshot, with the round's
    rated results (coder, new rating, new vol) applied (num_ratings + 1, or 1 for a first rating)."""
    history = dict(previous)
    for coder_id, new_rating, new_vol in rated:
        before = history.get(coder_id)
        history[coder_id] = HistoryEntry(new_rating, new_vol, 1 if before is None else before.num_ratings + 1)
    return history


@dataclass(frozen=True)
class RankRow:
    coder_id: int
    rank_type: int
    rank: int
    percentile: float


def rank_snapshot(
    history: Mapping[int, HistoryEntry], ranked_coders: Iterable[int], active_coders: Iterable[int]
) -> list[RankRow]:
    """Overall and active ranks by rating among rated coders (num_ratings > 0) that may be ranked
    (DW coder status 'A'); competition-style ranks, percentile = 100 * (count - rank) / count."""
    eligible = sorted(c for c in set(ranked_coders) if c in history and history[c].num_ratings > 0)
    active = set(active_coders)
    rows: list[RankRow] = []
    for rank_type, members in ((RANK_OVERALL, eligible), (RANK_ACTIVE, [c for c in eligible if c in active])):
        ranks = competition_ranks([history[c].rating for c in members])
        rows += [
            RankRow(c, rank_type, r, percentile(r, len(members))) for c, r in zip(members, ranks, strict=True)
        ]
    return rows


def rating_orders(rounds: Iterable[tuple[int, dt.datetime | None, bool]]) -> dict[int, int | None]:
    """Position of each rated round among rated rounds, by (start date, round id); None if unrated."""
    rounds = list(rounds)
    rated = sorted(((start or dt.datetime.min, round_id) for round_id, start, is_rated in rounds if is_rated))
    orders: dict[int, int | None] = {round_id: None for round_id, _, _ in rounds}
    orders.update({round_id: i + 1 for i, (_, round_id) in enumerate(rated)})
    return orders


def reordered_rounds(orders: Mapping[int, int | None], stored_orders: Mapping[int, int | None]) -> list[int]:
    """Rounds whose rating order differs from the one the DW holds (a new round, a round loaded
    before an older one, a round now rated or unrated), in the order of `stored_orders`."""
    return [round_id for round_id, stored in stored_orders.items() if orders[round_id] != stored]


@dataclass(frozen=True)
class Rebuild:
    """Rated rounds whose history and rank snapshots must be rebuilt, and where to start."""

    round_ids: list[int]  # in rating order
    seed_round_id: int | None  # the rated round just before: its history is the starting point


def rounds_to_rebuild(
    loaded_round_id: int, orders: Mapping[int, int | None], stored_orders: Mapping[int, int | None]
) -> Rebuild:
    """The rounds to rebuild when a round is loaded: every rated round from the earliest one whose
    rating order changed, or from the loaded round if that is earlier. Snapshots depend on every
    earlier round, so loading an older round after newer ones rebuilds the newer ones too. `orders`
    are the new rating orders (see rating_orders), `stored_orders` those the DW holds."""
    in_order = [round_id for _, round_id in sorted((o, r) for r, o in orders.items() if o is not None)]
    starts = [o for r in reordered_rounds(orders, stored_orders) if (o := orders[r]) is not None]
    loaded = orders[loaded_round_id]
    first = min(starts + ([loaded] if loaded is not None else [len(in_order) + 1]))
    if first > len(in_order):  # an unrated round that moved no rated round
        return Rebuild(round_ids=[], seed_round_id=None)
    return Rebuild(round_ids=in_order[first - 1 :], seed_round_id=in_order[first - 2] if first > 1 else None)
