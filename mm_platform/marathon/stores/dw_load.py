"""OLTP -> DW loads of the marathon chain (spec 2.4/2.5, decision 9.6).

Both loads are scoped to one round and idempotent (upserts, or delete-and-insert of the round's
rows). Rating history and ranks are snapshots that depend on every earlier round, so they are
rebuilt in rating order from the first round whose position changed: loading an older round after
a newer one repairs the newer ones instead of regressing them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from mm_platform.core.sql import int_or_none, upsert
from mm_platform.marathon.rules.dw_logic import (
    ACTIVE_DAYS,
    STREAK_TYPES,
    GroupRankRow,
    HistoryEntry,
    StreakResult,
    competition_ranks,
    group_ranks,
    next_history,
    rank_snapshot,
    rating_id,
    rating_orders,
    reordered_rounds,
    rounds_to_rebuild,
    streaks,
)
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import schema as oltp
from mm_platform.marathon.stores.schema import LONG_ROUND_TYPE_IDS, MARATHON_RATING_TYPE_ID

CHUNK = 500


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def round_coder_ids(conn: Connection, round_id: int) -> list[int]:
    rows = conn.execute(
        select(oltp.long_comp_result.c.coder_id).where(oltp.long_comp_result.c.round_id == round_id)
    )
    return sorted(r[0] for r in rows)


def load_coders(oltp_conn: Connection, dw_conn: Connection, round_id: int) -> dict[str, int]:
    """The round's coders and their ratings (every rating type) from OLTP into the DW. The DW-only
    summary columns of algo_rating are left as they are (the ratings load maintains them)."""
    coder_ids = round_coder_ids(oltp_conn, round_id)
    coders, ratings = [], []
    for chunk in _chunks(coder_ids):
        coders += [
            dict(r._mapping)
            for r in oltp_conn.execute(
                select(
                    oltp.coder.c.coder_id,
                    oltp.coder.c.handle,
                    oltp.coder.c.status,
                    oltp.coder.c.country_code,
                    oltp.coder.c.state_code,
                    oltp.coder.c.member_since,
                    oltp.coder.c.modify_date,
                ).where(oltp.coder.c.coder_id.in_(chunk))
            )
        ]
        ratings += [
            {
                "coder_id": r.coder_id,
                "algo_rating_type_id": r.algo_rating_type_id,
                "rating": int(r.rating),
                "vol": int(r.vol),
                "num_ratings": int(r.num_ratings),
            }
            for r in oltp_conn.execute(select(oltp.algo_rating).where(oltp.algo_rating.c.coder_id.in_(chunk)))
        ]
    upsert(dw_conn, dw.coder, coders, keys=["coder_id"])
    upsert(dw_conn, dw.algo_rating, ratings, keys=["coder_id", "algo_rating_type_id"])
    schools, current_schools = _load_current_schools(oltp_conn, dw_conn, coder_ids)
    languages = _load_languages(oltp_conn, dw_conn)
    return {
        "round_coders": len(coder_ids),
        "coders_loaded": len(coders),
        "ratings_loaded": len(ratings),
        "coders_missing_in_oltp": len(coder_ids) - len(coders),
        "current_schools_loaded": current_schools,
        "schools_loaded": schools,
        "languages_loaded": languages,
    }


def _load_current_schools(
    oltp_conn: Connection, dw_conn: Connection, coder_ids: list[int]
) -> tuple[int, int]:
    """The coders' current schools replace their DW rows (a member who left a school loses it), with
    the schools they refer to. Returns (schools, current_school rows)."""
    current: list[dict[str, int]] = []
    for chunk in _chunks(coder_ids):
        current += [
            {"coder_id": r.coder_id, "school_id": r.school_id}
            for r in oltp_conn.execute(
                select(oltp.current_school).where(oltp.current_school.c.coder_id.in_(chunk))
            )
        ]
        dw_conn.execute(delete(dw.current_school).where(dw.current_school.c.coder_id.in_(chunk)))
    school_ids = sorted({r["school_id"] for r in current})
    schools: list[dict[str, Any]] = []
    for chunk in _chunks(school_ids):
        schools += [
            {"school_id": r.school_id, "name": r.name}
            for r in oltp_conn.execute(select(oltp.school).where(oltp.school.c.school_id.in_(chunk)))
        ]
    upsert(dw_conn, dw.school, schools, keys=["school_id"])
    for chunk in _chunks(current):
        dw_conn.execute(dw.current_school.insert(), chunk)
    return len(schools), len(current)


def _load_languages(oltp_conn: Connection, dw_conn: Connection) -> int:
    # the whole table: it has a few dozen rows and submissions of any round refer to it
    languages = [dict(r._mapping) for r in oltp_conn.execute(select(oltp.language))]
    upsert(dw_conn, dw.language, languages, keys=["language_id"])
    return len(languages)


def _load_round_row(oltp_conn: Connection, dw_conn: Connection, round_id: int) -> None:
    row = oltp_conn.execute(
        select(oltp.round_, oltp.contest.c.name.label("contest_name"), oltp.contest.c.start_date)
        .join(oltp.contest, oltp.contest.c.contest_id == oltp.round_.c.contest_id)
        .where(oltp.round_.c.round_id == round_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"round {round_id} (with its contest) is not in the OLTP database")
    upsert(
        dw_conn,
        dw.round_,
        [
            {
                "round_id": row.round_id,
                "contest_id": row.contest_id,
                "contest_name": row.contest_name,
                "name": row.name,
                "short_name": row.short_name,
                "round_type_id": row.round_type_id,
                "rated_ind": int(row.rated_ind or 0),
                "start_date": row.start_date,
                "failed": 0,
            }
        ],
        keys=["round_id"],
    )


def _load_results(oltp_conn: Connection, dw_conn: Connection, round_id: int) -> int:
    lcr, lcs = oltp.long_comp_result, oltp.long_component_state
    rows = oltp_conn.execute(
        select(lcr, lcs.c.submission_number)
        .join(lcs, (lcs.c.round_id == lcr.c.round_id) & (lcs.c.coder_id == lcr.c.coder_id))
        .where(lcr.c.round_id == round_id)
    ).all()
    attended = [r for r in rows if r.attended == "Y"]
    provisional = dict(
        zip(
            [r.coder_id for r in attended],
            competition_ranks([float(r.point_total or 0) for r in attended]),
            strict=True,
        )
    )
    dw_conn.execute(delete(dw.long_comp_result).where(dw.long_comp_result.c.round_id == round_id))
    values = [
        {
            "round_id": round_id,
            "coder_id": r.coder_id,
            "placed": r.placed,
            "point_total": r.point_total,
            "system_point_total": r.system_point_total,
            "num_submissions": r.submission_number,
            "attended": r.attended,
            "old_rating": int_or_none(r.old_rating),
            "new_rating": int_or_none(r.new_rating),
            "old_vol": int_or_none(r.old_vol),
            "new_vol": int_or_none(r.new_vol),
            "rated_ind": int(r.rated_ind or 0),
            "advanced": r.advanced,
            "old_rating_id": rating_id(int_or_none(r.old_rating)),
            "new_rating_id": rating_id(int_or_none(r.new_rating)),
            "provisional_placed": provisional.get(r.coder_id),
            "num_ratings": None,
        }
        for r in rows
    ]
    for chunk in _chunks(values):
        dw_conn.execute(dw.long_comp_result.insert(), chunk)
    return len(values)


def _load_submissions(oltp_conn: Connection, dw_conn: Connection, round_id: int) -> int:
    """The round's submissions (spec 2.5 step 6): one row per long_submission of the round's
    component states; last_submission marks the state's latest submission number."""
    lcs, ls = oltp.long_component_state, oltp.long_submission
    rows = oltp_conn.execute(
        select(
            lcs.c.coder_id,
            lcs.c.submission_number.label("latest"),
            ls.c.submission_number,
            ls.c.example,
            ls.c.submit_time,
            ls.c.language_id,
            ls.c.submission_points,
        )
        .join(ls, ls.c.long_component_state_id == lcs.c.long_component_state_id)
        .where(lcs.c.round_id == round_id)
    ).all()
    dw_conn.execute(
        delete(dw.long_problem_submission).where(dw.long_problem_submission.c.round_id == round_id)
    )
    values = [
        {
            "round_id": round_id,
            "coder_id": r.coder_id,
            "submission_number": r.submission_number,
            "example": int(r.example or 0),
            "submit_time": int_or_none(r.submit_time),
            "language_id": r.language_id,
            "submission_points": r.submission_points,
            # as the legacy loader compares it, for example submissions too (spec 2.5 step 6)
            "last_submission": int(r.submission_number == r.latest),
        }
        for r in rows
    ]
    for chunk in _chunks(values):
        dw_conn.execute(dw.long_problem_submission.insert(), chunk)
    return len(values)


def _history(dw_conn: Connection, round_id: int) -> dict[int, HistoryEntry]:
    h = dw.algo_rating_history
    rows = dw_conn.execute(
        select(h).where(h.c.round_id == round_id, h.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID)
    )
    return {r.coder_id: HistoryEntry(r.rating, r.vol, r.num_ratings) for r in rows}


def _active_coders(dw_conn: Connection, start: dt.datetime | None) -> set[int]:
    if start is None:
        return set()
    lcr, rnd = dw.long_comp_result, dw.round_
    rows = dw_conn.execute(
        select(lcr.c.coder_id)
        .join(rnd, rnd.c.round_id == lcr.c.round_id)
        .where(
            lcr.c.attended == "Y",
            lcr.c.rated_ind == 1,
            rnd.c.start_date <= start,
            rnd.c.start_date > start - dt.timedelta(days=ACTIVE_DAYS),
        )
    )
    return {r[0] for r in rows}


def _rebuild_round(
    dw_conn: Connection, round_id: int, start: dt.datetime | None, previous: dict[int, HistoryEntry]
) -> dict[int, HistoryEntry]:
    """algo_rating_history, coder_rank_history and long_comp_result.num_ratings of one rated round."""
    lcr = dw.long_comp_result
    results = dw_conn.execute(
        select(lcr.c.coder_id, lcr.c.rated_ind, lcr.c.new_rating, lcr.c.new_vol).where(
            lcr.c.round_id == round_id
        )
    ).all()
    rated = [
        (r.coder_id, r.new_rating, r.new_vol)
        for r in results
        if r.rated_ind == 1 and r.new_rating is not None
    ]
    history = next_history(previous, rated)
    h = dw.algo_rating_history
    dw_conn.execute(
        delete(h).where(h.c.round_id == round_id, h.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID)
    )
    rows = [
        {
            "coder_id": c,
            "round_id": round_id,
            "algo_rating_type_id": MARATHON_RATING_TYPE_ID,
            "rating": e.rating,
            "vol": e.vol,
            "num_ratings": e.num_ratings,
        }
        for c, e in sorted(history.items())
    ]
    for chunk in _chunks(rows):
        dw_conn.execute(h.insert(), chunk)
    num_ratings = [
        {"b_coder_id": r.coder_id, "b_num": history[r.coder_id].num_ratings if r.coder_id in history else 0}
        for r in results
    ]
    if num_ratings:
        dw_conn.execute(
            update(lcr)
            .where(lcr.c.round_id == round_id, lcr.c.coder_id == bindparam("b_coder_id"))
            .values(num_ratings=bindparam("b_num")),
            num_ratings,
        )
    ranked = {r[0] for r in dw_conn.execute(select(dw.coder.c.coder_id).where(dw.coder.c.status == "A"))}
    snapshot = rank_snapshot(history, ranked, _active_coders(dw_conn, start))
    rh = dw.coder_rank_history
    dw_conn.execute(
        delete(rh).where(rh.c.round_id == round_id, rh.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID)
    )
    rank_rows = [
        {
            "coder_id": r.coder_id,
            "round_id": round_id,
            "algo_rating_type_id": MARATHON_RATING_TYPE_ID,
            "coder_rank_type_id": r.rank_type,
            "rank": r.rank,
            "percentile": r.percentile,
        }
        for r in snapshot
    ]
    for chunk in _chunks(rank_rows):
        dw_conn.execute(rh.insert(), chunk)
    return history


def _update_summaries(dw_conn: Connection, coder_ids: list[int]) -> int:
    """highest/lowest rating, first/last rated round and competitions of the given coders."""
    lcr, rnd, ar = dw.long_comp_result, dw.round_, dw.algo_rating
    per_coder: dict[int, list[Any]] = defaultdict(list)
    for chunk in _chunks(coder_ids):
        for r in dw_conn.execute(
            select(
                lcr.c.coder_id,
                lcr.c.round_id,
                lcr.c.attended,
                lcr.c.rated_ind,
                lcr.c.new_rating,
                rnd.c.rating_order,
            )
            .join(rnd, rnd.c.round_id == lcr.c.round_id)
            .where(lcr.c.coder_id.in_(chunk))
        ):
            per_coder[r.coder_id].append(r)
    rows = []
    for coder_id, results in per_coder.items():
        ratings = [r.new_rating for r in results if r.new_rating and r.new_rating > 0]
        rated = sorted((r.rating_order, r.round_id) for r in results if r.rated_ind == 1 and r.rating_order)
        rows.append(
            {
                "b_coder_id": coder_id,
                "b_highest": max(ratings) if ratings else None,
                "b_lowest": min(ratings) if ratings else None,
                "b_first": rated[0][1] if rated else None,
                "b_last": rated[-1][1] if rated else None,
                "b_competitions": sum(1 for r in results if r.attended == "Y"),
            }
        )
    if rows:
        dw_conn.execute(
            update(ar)
            .where(
                ar.c.coder_id == bindparam("b_coder_id"), ar.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID
            )
            .values(
                highest_rating=bindparam("b_highest"),
                lowest_rating=bindparam("b_lowest"),
                first_rated_round_id=bindparam("b_first"),
                last_rated_round_id=bindparam("b_last"),
                num_competitions=bindparam("b_competitions"),
            ),
            rows,
        )
    return len(rows)


# each group rank table, its group column, and the name of its row count in the load's metadata
GROUP_RANK_TABLES = (
    (dw.country_coder_rank, "country_code", "country_ranks"),
    (dw.state_coder_rank, "state_code", "state_ranks"),
    (dw.school_coder_rank, "school_id", "school_ranks"),
)


def _groups(dw_conn: Connection) -> dict[str, dict[int, Any]]:
    """Each coder's country, state and school, by the column of the group rank table."""
    coders = dw_conn.execute(
        select(dw.coder.c.coder_id, dw.coder.c.country_code, dw.coder.c.state_code)
    ).all()
    return {
        "country_code": {r.coder_id: r.country_code for r in coders if r.country_code},
        "state_code": {r.coder_id: r.state_code for r in coders if r.state_code},
        "school_id": {
            r.coder_id: r.school_id
            for r in dw_conn.execute(select(dw.current_school.c.coder_id, dw.current_school.c.school_id))
        },
    }


def _rebuild_group_ranks(
    dw_conn: Connection, latest: int, population: list[tuple[int, int]]
) -> dict[str, int]:
    """country/state/school ranks, rebuilt globally from the current ranks' population ((coder, rank
    type) of the latest rated round's rank history) and that round's ratings."""
    ratings = {c: e.rating for c, e in _history(dw_conn, latest).items()}
    groups = _groups(dw_conn)
    counts = {}
    for table, column, name in GROUP_RANK_TABLES:
        dw_conn.execute(delete(table).where(table.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID))
        rows = [_group_rank_values(r, column) for r in group_ranks(population, ratings, groups[column])]
        for chunk in _chunks(rows):
            dw_conn.execute(table.insert(), chunk)
        counts[name] = len(rows)
    return counts


def _group_rank_values(row: GroupRankRow, column: str) -> dict[str, Any]:
    return {
        "coder_id": row.coder_id,
        "algo_rating_type_id": MARATHON_RATING_TYPE_ID,
        "coder_rank_type_id": row.rank_type,
        column: row.group,
        "rank": row.rank,
        "percentile": row.percentile,
    }


def _rebuild_streaks(dw_conn: Connection) -> int:
    """Streak types 8-11, recomputed globally from every DW marathon result (loadStreaks)."""
    lcr, rnd = dw.long_comp_result, dw.round_
    results = [
        StreakResult(
            coder_id=r.coder_id,
            round_id=r.round_id,
            round_type_id=r.round_type_id,
            start_date=r.start_date,
            attended=r.attended == "Y",
            placed=r.placed,
            rated=r.rated_ind == 1 and r.new_rating is not None,
            old_rating=r.old_rating,
            new_rating=r.new_rating,
        )
        for r in dw_conn.execute(
            select(
                lcr.c.coder_id,
                lcr.c.round_id,
                rnd.c.round_type_id,
                rnd.c.start_date,
                lcr.c.attended,
                lcr.c.placed,
                lcr.c.rated_ind,
                lcr.c.old_rating,
                lcr.c.new_rating,
            )
            .join(rnd, rnd.c.round_id == lcr.c.round_id)
            .where(rnd.c.round_type_id.in_(LONG_ROUND_TYPE_IDS))
        )
    ]
    dw_conn.execute(delete(dw.streak).where(dw.streak.c.streak_type_id.in_(STREAK_TYPES)))
    rows = [
        {
            "coder_id": s.coder_id,
            "streak_type_id": s.streak_type_id,
            "start_round_id": s.start_round_id,
            "end_round_id": s.end_round_id,
            "length": s.length,
            "is_current": int(s.is_current),
        }
        for s in streaks(results)
    ]
    for chunk in _chunks(rows):
        dw_conn.execute(dw.streak.insert(), chunk)
    return len(rows)


def load_round_ratings(oltp_conn: Connection, dw_conn: Connection, round_id: int) -> dict[str, int]:
    """The round, its results, and everything derived in rating order, into the DW."""
    _load_round_row(oltp_conn, dw_conn, round_id)
    results = _load_results(oltp_conn, dw_conn, round_id)
    submissions = _load_submissions(oltp_conn, dw_conn, round_id)

    rounds = dw_conn.execute(
        select(dw.round_.c.round_id, dw.round_.c.start_date, dw.round_.c.rated_ind, dw.round_.c.rating_order)
    ).all()
    orders = rating_orders((r.round_id, r.start_date, r.rated_ind == 1) for r in rounds)
    stored_orders = {r.round_id: r.rating_order for r in rounds}
    for rid in reordered_rounds(orders, stored_orders):
        dw_conn.execute(update(dw.round_).where(dw.round_.c.round_id == rid).values(rating_order=orders[rid]))
    starts = {r.round_id: r.start_date for r in rounds}
    ordered = sorted((o, rid) for rid, o in orders.items() if o is not None)
    rebuild = rounds_to_rebuild(round_id, orders, stored_orders)
    previous = _history(dw_conn, rebuild.seed_round_id) if rebuild.seed_round_id is not None else {}
    for rid in rebuild.round_ids:
        previous = _rebuild_round(dw_conn, rid, starts[rid], previous)
    rebuilt = len(rebuild.round_ids)
    if orders[round_id] is None:  # an unrated round: num_ratings as of the latest earlier rated round
        earlier = [
            rid for _, rid in ordered if starts[rid] and starts[round_id] and starts[rid] <= starts[round_id]
        ]
        history = _history(dw_conn, earlier[-1]) if earlier else {}
        lcr = dw.long_comp_result
        for coder_id, entry in history.items():
            dw_conn.execute(
                update(lcr)
                .where(lcr.c.round_id == round_id, lcr.c.coder_id == coder_id)
                .values(num_ratings=entry.num_ratings)
            )
        dw_conn.execute(
            update(lcr).where(lcr.c.round_id == round_id, lcr.c.num_ratings.is_(None)).values(num_ratings=0)
        )

    # the current ranks are those of the latest rated round (not of the round just loaded)
    group_counts = {name: 0 for *_, name in GROUP_RANK_TABLES}
    if ordered:
        latest = ordered[-1][1]
        dw_conn.execute(
            delete(dw.coder_rank).where(dw.coder_rank.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID)
        )
        rh = dw.coder_rank_history
        current = [
            {
                "coder_id": r.coder_id,
                "algo_rating_type_id": MARATHON_RATING_TYPE_ID,
                "coder_rank_type_id": r.coder_rank_type_id,
                "rank": r.rank,
                "percentile": r.percentile,
                "round_id": latest,
            }
            for r in dw_conn.execute(select(rh).where(rh.c.round_id == latest))
        ]
        for chunk in _chunks(current):
            dw_conn.execute(dw.coder_rank.insert(), chunk)
        population = [(r["coder_id"], r["coder_rank_type_id"]) for r in current]
        group_counts = _rebuild_group_ranks(dw_conn, latest, population)
    streak_count = _rebuild_streaks(dw_conn)
    summaries = _update_summaries(dw_conn, round_coder_ids(oltp_conn, round_id))
    history_rows = dw_conn.execute(
        select(func.count())
        .select_from(dw.algo_rating_history)
        .where(dw.algo_rating_history.c.round_id == round_id)
    ).scalar_one()
    return {
        "results_loaded": results,
        "rounds_rebuilt_in_rating_order": rebuilt,
        "rating_order": orders[round_id] or 0,
        "history_rows": history_rows,
        "summaries_updated": summaries,
        "submissions_loaded": submissions,
        **group_counts,
        "streaks": streak_count,
    }
