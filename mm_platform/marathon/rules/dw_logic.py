"""Warehouse rules of the marathon loads (spec 2.5), pure: no Dagster, no I/O."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
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


@dataclass(frozen=True)
class GroupRankRow:
    coder_id: int
    rank_type: int
    group: Hashable  # country code, state code or school id
    rank: int
    percentile: float


def group_ranks(
    rank_rows: Iterable[tuple[int, int]],
    ratings: Mapping[int, int],
    group_of: Mapping[int, Hashable | None],
) -> list[GroupRankRow]:
    """Ranks within groups (country, state, school) of the current rank population: `rank_rows`
    are the (coder, rank type) pairs of coder_rank, so each rank type (overall, active) keeps its
    own population. Coders are ranked by `ratings` within (rank type, group), competition-style,
    percentile = 100 * (count - rank) / count in the group. Coders without a group get no row."""
    members: dict[tuple[int, Hashable], list[int]] = defaultdict(list)
    for coder_id, rank_type in rank_rows:
        group = group_of.get(coder_id)
        if group is not None and coder_id in ratings:
            members[(rank_type, group)].append(coder_id)
    rows: list[GroupRankRow] = []
    for (rank_type, group), coders in sorted(members.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        coders.sort()
        ranks = competition_ranks([ratings[c] for c in coders])
        rows += [
            GroupRankRow(c, rank_type, group, r, percentile(r, len(coders)))
            for c, r in zip(coders, ranks, strict=True)
        ]
    return rows


STREAK_RATING_INCREASE = 8  # consecutive rating increases, every marathon round
STREAK_RATING_INCREASE_NON_TOURNAMENT = 9  # the same over non-tournament marathon rounds only
STREAK_TOP5 = 10  # consecutive top-5 placements
STREAK_TOP10 = 11  # consecutive top-10 placements
STREAK_TYPES = (
    STREAK_RATING_INCREASE,
    STREAK_RATING_INCREASE_NON_TOURNAMENT,
    STREAK_TOP5,
    STREAK_TOP10,
)
MARATHON_ROUND_TYPE = 13  # round_type_id of an ordinary (non-tournament) marathon round


@dataclass(frozen=True)
class StreakResult:
    """One DW long_comp_result row of a marathon round, with what its round says."""

    coder_id: int
    round_id: int
    round_type_id: int
    start_date: dt.datetime | None
    attended: bool
    placed: int | None
    rated: bool  # rated_ind = 1 and new_rating is not null
    old_rating: int | None
    new_rating: int | None


@dataclass(frozen=True)
class Streak:
    coder_id: int
    streak_type_id: int
    start_round_id: int
    end_round_id: int
    length: int
    is_current: bool


def _runs(rounds: Sequence[tuple[int, bool]]) -> list[tuple[int, int, int, bool]]:
    """Maximal runs of True of length >= 2 in (round, hit) pairs: (start, end, length, is_current),
    current when the run ends at the last pair."""
    runs: list[tuple[int, int, int, bool]] = []
    start = 0
    for i, (_, hit) in enumerate([*rounds, (0, False)]):
        if hit:
            continue
        if i - start >= 2:
            runs.append((rounds[start][0], rounds[i - 1][0], i - start, i == len(rounds)))
        start = i + 1
    return runs


def _increased(r: StreakResult) -> bool:
    # a first rating (no old rating, or 0) is not an increase
    return (
        r.old_rating is not None
        and r.old_rating > 0
        and r.new_rating is not None
        and r.new_rating > r.old_rating
    )


def _top(limit: int) -> Callable[[StreakResult], bool]:
    return lambda r: r.placed is not None and 1 <= r.placed <= limit


def streaks(results: Iterable[StreakResult]) -> list[Streak]:
    """Marathon streaks, following spec 2.5's loadStreaks as far as the spec describes it (it names
    the four kinds and that they come from every DW marathon result of round types 13 and 19). Each
    coder's results are taken in round order (start date, then round id), and:

    * 8: consecutive rating increases over rated rounds (rated_ind = 1, new_rating not null) of both
      round types; 9: the same over rated rounds of type 13 only (tournament rounds are not
      considered at all, so they neither extend nor break a type-9 run). A round is an increase
      when old_rating is a positive number and new_rating > old_rating: a first rating is not one.
    * 10 / 11: consecutive placements 1..5 / 1..10 over attended rounds (attended = 'Y'); rounds the
      coder did not attend are skipped, they do not break a run.

    Every maximal run of length >= 2 is a streak (start round, end round, length); it is current
    when it ends at the coder's last considered round of that type."""
    per_coder: dict[int, list[StreakResult]] = defaultdict(list)
    for r in results:
        per_coder[r.coder_id].append(r)
    kinds: list[tuple[int, Callable[[StreakResult], bool], Callable[[StreakResult], bool]]] = [
        (STREAK_RATING_INCREASE, lambda r: r.rated, _increased),
        (
            STREAK_RATING_INCREASE_NON_TOURNAMENT,
            lambda r: r.rated and r.round_type_id == MARATHON_ROUND_TYPE,
            _increased,
        ),
        (STREAK_TOP5, lambda r: r.attended, _top(5)),
        (STREAK_TOP10, lambda r: r.attended, _top(10)),
    ]
    found: list[Streak] = []
    for coder_id in sorted(per_coder):
        ordered = sorted(per_coder[coder_id], key=lambda r: (r.start_date or dt.datetime.min, r.round_id))
        for streak_type, considered, hit in kinds:
            sequence = [(r.round_id, hit(r)) for r in ordered if considered(r)]
            found += [
                Streak(coder_id, streak_type, start, end, length, current)
                for start, end, length, current in _runs(sequence)
            ]
    return found
