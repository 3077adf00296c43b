"""Rating a round in the OLTP database (spec 9.3): whole round, one transaction, idempotent.

The first time a round is rated, each attended coder's pre-round rating is kept in the
platform-owned table `mmp_round_rating_input`; every later run of the same round rates from those
inputs, so re-materializing gives the same rows and never counts a rating twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    update,
)

from mm_platform.core.sql import db_now, engine_for, int_or_none, upsert
from mm_platform.marathon.rules.ratings import rate_round
from mm_platform.marathon.rules.round_inputs import (
    AlgoRatingWrite,
    CurrentRating,
    PreRoundRating,
    algo_rating_write,
    coders_to_capture,
    pre_round_ratings,
)
from mm_platform.marathon.stores.schema import (
    MARATHON_RATING_TYPE_ID,
    algo_rating,
    long_comp_result,
    metadata,
    round_,
)

rating_input = Table(
    "mmp_round_rating_input",
    metadata,
    Column("round_id", Integer, nullable=False),
    Column("coder_id", Integer, nullable=False),
    Column("had_rating_row", Boolean, nullable=False),
    Column("old_rating", Numeric(5, 0)),
    Column("old_vol", Numeric(5, 0)),
    Column("old_num_ratings", Numeric(6, 0), nullable=False),
    Column("old_rating_round_id", Numeric(6, 0)),
    Column("captured_at", DateTime, nullable=False),
    PrimaryKeyConstraint("round_id", "coder_id"),
)


def create_rating_input_table(oltp_db_url: str) -> list[str]:
    """`mm-platform db upgrade`: the capture table lives in the OLTP database, inside the round's
    rating transaction, so it is not under the platform database's migrations; created when missing."""
    engine = engine_for(oltp_db_url)
    existed = inspect(engine).has_table(rating_input.name)
    rating_input.create(engine, checkfirst=True)
    return [f"marathon: {rating_input.name} in the OLTP database {'present' if existed else 'created'}"]


@dataclass
class RoundRatingOutcome:
    round_id: int
    attended: int = 0
    rated_provisional: int = 0
    rated_non_provisional: int = 0
    unrated_single_coder_pass: list[int] = field(default_factory=list)
    ratings_written: int = 0
    kept_for_later_round: list[int] = field(default_factory=list)  # algo_rating already from a later round
    results: pd.DataFrame | None = None


def _capture_inputs(conn: Connection, round_id: int, coder_ids: list[int], now: dt.datetime) -> None:
    """Snapshot the pre-round algo_rating of coders not captured yet (first rating of the round,
    or a coder whose attendance came later)."""
    known = {
        r[0] for r in conn.execute(select(rating_input.c.coder_id).where(rating_input.c.round_id == round_id))
    }
    missing = coders_to_capture(coder_ids, known)
    if not missing:
        return
    current: dict[int, CurrentRating] = {}
    for start in range(0, len(missing), 500):
        rows = conn.execute(
            select(algo_rating).where(
                algo_rating.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
                algo_rating.c.coder_id.in_(missing[start : start + 500]),
            )
        )
        current.update({r.coder_id: CurrentRating(r.rating, r.vol, r.num_ratings, r.round_id) for r in rows})
    values = [
        {
            "round_id": round_id,
            "coder_id": p.coder_id,
            "had_rating_row": p.had_rating_row,
            "old_rating": p.old_rating,
            "old_vol": p.old_vol,
            "old_num_ratings": p.old_num_ratings,
            "old_rating_round_id": p.old_rating_round_id,
            "captured_at": now,
        }
        for p in pre_round_ratings(round_id, missing, current)
    ]
    conn.execute(insert(rating_input), values)


def _captured_inputs(conn: Connection, round_id: int) -> dict[int, PreRoundRating]:
    return {
        r.coder_id: PreRoundRating(
            coder_id=r.coder_id,
            had_rating_row=r.had_rating_row,
            old_rating=r.old_rating,
            old_vol=r.old_vol,
            old_num_ratings=r.old_num_ratings,
            old_rating_round_id=r.old_rating_round_id,
        )
        for r in conn.execute(select(rating_input).where(rating_input.c.round_id == round_id))
    }


def rate_round_in_oltp(conn: Connection, round_id: int, now: dt.datetime | None = None) -> RoundRatingOutcome:
    """Rate every attended coder of the round and write long_comp_result, algo_rating and
    round.rated_ind. Call inside a transaction: everything is written or nothing."""
    now = now or db_now()
    outcome = RoundRatingOutcome(round_id)
    attended = conn.execute(
        select(long_comp_result.c.coder_id, long_comp_result.c.system_point_total).where(
            long_comp_result.c.round_id == round_id, long_comp_result.c.attended == "Y"
        )
    ).all()
    outcome.attended = len(attended)
    if not attended:
        outcome.results = rate_round(
            pd.DataFrame(columns=["coder_id", "old_rating", "old_vol", "num_ratings", "score"])
        )
        return outcome
    coder_ids = [r.coder_id for r in attended]
    _capture_inputs(conn, round_id, coder_ids, now)
    inputs = _captured_inputs(conn, round_id)
    frame = pd.DataFrame(
        {
            "coder_id": coder_ids,
            "old_rating": [
                int_or_none(inputs[c].old_rating) if inputs[c].had_rating_row else None for c in coder_ids
            ],
            "old_vol": [
                int_or_none(inputs[c].old_vol) if inputs[c].had_rating_row else None for c in coder_ids
            ],
            "num_ratings": [int(inputs[c].old_num_ratings) for c in coder_ids],
            "score": [
                None if r.system_point_total is None else float(r.system_point_total) for r in attended
            ],
        }
    )
    results = rate_round(frame)
    outcome.results = results

    current_round = {
        r.coder_id: int_or_none(r.round_id)
        for r in conn.execute(
            select(algo_rating.c.coder_id, algo_rating.c.round_id).where(
                algo_rating.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
                algo_rating.c.coder_id.in_(coder_ids),
            )
        )
    }
    lcr_rows, rating_rows, restore_rows, remove_rows = [], [], [], []
    for row in results.itertuples(index=False):
        snapshot = inputs[row.coder_id]
        rated = row.rated_pass is not None
        lcr_rows.append(
            {
                "b_coder_id": row.coder_id,
                "b_rated_ind": 1 if rated else 0,
                "b_old_rating": snapshot.old_rating,
                "b_old_vol": snapshot.old_vol,
                "b_new_rating": int(row.new_rating) if rated else None,
                "b_new_vol": int(row.new_vol) if rated else None,
            }
        )
        write = algo_rating_write(round_id, rated, current_round.get(row.coder_id), snapshot)
        if write is AlgoRatingWrite.KEEP_LATER_ROUND:
            outcome.kept_for_later_round.append(row.coder_id)
        elif write is AlgoRatingWrite.NEW_RATING:
            if row.rated_pass == "provisional":
                outcome.rated_provisional += 1
            else:
                outcome.rated_non_provisional += 1
            rating_rows.append(
                {
                    "coder_id": row.coder_id,
                    "algo_rating_type_id": MARATHON_RATING_TYPE_ID,
                    "rating": int(row.new_rating),
                    "vol": int(row.new_vol),
                    "round_id": round_id,
                    "num_ratings": int(row.num_ratings),
                    "modify_date": now,
                }
            )
        else:
            outcome.unrated_single_coder_pass.append(row.coder_id)
            if write is AlgoRatingWrite.RESTORE_PRE_ROUND:
                restore_rows.append(
                    {
                        "coder_id": row.coder_id,
                        "algo_rating_type_id": MARATHON_RATING_TYPE_ID,
                        "rating": snapshot.old_rating,
                        "vol": snapshot.old_vol,
                        "round_id": snapshot.old_rating_round_id,
                        "num_ratings": snapshot.old_num_ratings,
                        "modify_date": now,
                    }
                )
            elif write is AlgoRatingWrite.REMOVE:
                remove_rows.append(row.coder_id)

    conn.execute(
        update(long_comp_result)
        .where(
            long_comp_result.c.round_id == round_id, long_comp_result.c.coder_id == bindparam("b_coder_id")
        )
        .values(
            rated_ind=bindparam("b_rated_ind"),
            old_rating=bindparam("b_old_rating"),
            old_vol=bindparam("b_old_vol"),
            new_rating=bindparam("b_new_rating"),
            new_vol=bindparam("b_new_vol"),
        ),
        lcr_rows,
    )
    upsert(conn, algo_rating, rating_rows + restore_rows, keys=["coder_id", "algo_rating_type_id"])
    if remove_rows:
        conn.execute(
            delete(algo_rating).where(
                algo_rating.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
                algo_rating.c.coder_id.in_(remove_rows),
            )
        )
    outcome.ratings_written = len(rating_rows)
    if outcome.rated_provisional + outcome.rated_non_provisional:
        conn.execute(update(round_).where(round_.c.round_id == round_id).values(rated_ind=1))
    return outcome


def unrated_attended_coders(conn: Connection, round_id: int) -> list[int]:
    """Attended coders of a rated round without a rating that decision 9.2 does not explain (a pass
    with a single coder: the only attendee, or the only experienced attendee)."""
    lcr = long_comp_result
    rows = conn.execute(
        select(
            lcr.c.coder_id, lcr.c.new_rating, rating_input.c.had_rating_row, rating_input.c.old_num_ratings
        )
        .select_from(
            lcr.outerjoin(
                rating_input,
                (rating_input.c.round_id == lcr.c.round_id) & (rating_input.c.coder_id == lcr.c.coder_id),
            )
        )
        .where(lcr.c.round_id == round_id, lcr.c.attended == "Y")
    ).all()
    experienced = [r for r in rows if r.had_rating_row and int(r.old_num_ratings or 0) > 0]
    unexplained = []
    for r in rows:
        if r.new_rating is not None or len(rows) == 1:
            continue
        if r in experienced and len(experienced) == 1:
            continue
        unexplained.append(r.coder_id)
    return sorted(unexplained)
