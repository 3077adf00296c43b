"""Marathon DW assets, partitioned by round: coders and ratings loaded into the warehouse."""

import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
)
from sqlalchemy import func, select

from mm_platform.core.automation import upstream_updates_propagate
from mm_platform.core.sql import SqlDatabase, ensure_schema
from mm_platform.marathon.defs.assets import ROUNDS, round_id_of, round_ratings
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import schema as oltp
from mm_platform.marathon.stores.dw_load import load_coders, load_round_ratings, round_coder_ids
from mm_platform.marathon.stores.schema import MARATHON_RATING_TYPE_ID

DW_CODERS = ROUNDS.key("dw_coders")
DW_MM_RATINGS = ROUNDS.key("dw_mm_ratings")


def dw_engine(dw_db: SqlDatabase):
    """The DW engine, its tables created on first use."""
    return ensure_schema(dw.metadata, dw_db.get_engine())


@ROUNDS.asset(
    "dw_coders",
    deps=[round_ratings],
    kinds={"sql"},
    automation_condition=upstream_updates_propagate(),
    description=(
        "The round's coders, their current ratings and current schools (with those schools) copied from "
        "OLTP to the DW (spec 2.4, scoped to the round), and the language table. Must precede the "
        "ratings load, which needs the DW algo_rating and current_school rows."
    ),
)
def dw_coders(context: AssetExecutionContext, oltp_db: SqlDatabase, dw_db: SqlDatabase) -> MaterializeResult:
    round_id = round_id_of(context)
    started = time.perf_counter()
    with oltp_db.get_engine().connect() as oltp_conn, dw_engine(dw_db).begin() as dw_conn:
        counts = load_coders(oltp_conn, dw_conn, round_id)
    if counts["coders_missing_in_oltp"]:
        context.log.warning(
            f"{counts['coders_missing_in_oltp']} coder(s) of round {round_id} have no OLTP coder row"
        )
    return MaterializeResult(
        metadata={
            **counts,
            "seconds": round(time.perf_counter() - started, 3),
            "dagster/row_count": counts["coders_loaded"],
            "dagster/table_name": "coder",
        }
    )


def _compare_with_oltp(oltp_conn, dw_conn, round_id: int) -> list[str]:
    """Differences between the DW and OLTP for the round: results and current ratings."""
    problems = []
    lcr, lcs = oltp.long_comp_result, oltp.long_component_state
    columns = ("attended", "rated_ind", "new_rating", "new_vol", "old_rating", "old_vol")
    source = {
        r.coder_id: tuple(
            None if getattr(r, c) is None else (str(getattr(r, c)) if c == "attended" else int(getattr(r, c)))
            for c in columns
        )
        for r in oltp_conn.execute(
            select(lcr)
            .join(lcs, (lcs.c.round_id == lcr.c.round_id) & (lcs.c.coder_id == lcr.c.coder_id))
            .where(lcr.c.round_id == round_id)
        )
    }
    loaded = {
        r.coder_id: tuple(getattr(r, c) for c in columns)
        for r in dw_conn.execute(
            select(dw.long_comp_result).where(dw.long_comp_result.c.round_id == round_id)
        )
    }
    differing = sorted(c for c in source.keys() | loaded.keys() if source.get(c) != loaded.get(c))
    if differing:
        problems.append(f"long_comp_result differs for {len(differing)} coder(s): {differing[:10]}")
    coder_ids = round_coder_ids(oltp_conn, round_id)
    oltp_ratings = {
        r.coder_id: (int(r.rating), int(r.vol), int(r.num_ratings))
        for r in oltp_conn.execute(
            select(oltp.algo_rating).where(
                oltp.algo_rating.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
                oltp.algo_rating.c.coder_id.in_(coder_ids),
            )
        )
    }
    dw_ratings = {
        r.coder_id: (r.rating, r.vol, r.num_ratings)
        for r in dw_conn.execute(
            select(dw.algo_rating).where(
                dw.algo_rating.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
                dw.algo_rating.c.coder_id.in_(coder_ids),
            )
        )
    }
    differing = sorted(
        c for c in oltp_ratings.keys() | dw_ratings.keys() if oltp_ratings.get(c) != dw_ratings.get(c)
    )
    if differing:
        problems.append(f"algo_rating differs for {len(differing)} coder(s): {differing[:10]}")
    return problems


@ROUNDS.asset(
    "dw_mm_ratings",
    deps=[round_ratings, dw_coders],
    kinds={"sql"},
    automation_condition=upstream_updates_propagate(),
    check_specs=[
        AssetCheckSpec(
            "dw_matches_oltp",
            asset=DW_MM_RATINGS,
            description="DW long_comp_result and algo_rating agree with OLTP for the round.",
        )
    ],
    description=(
        "The round's results in the DW (spec 2.5): round with its rating order, long_comp_result, and — "
        "rebuilt in rating order from the first round whose position changed — rating history, rank "
        "history and current ranks; country, state and school ranks; the round's submissions; "
        "marathon streaks (types 8-11, rebuilt globally); per-coder summaries (highest/lowest rating, "
        "competitions)."
    ),
)
def dw_mm_ratings(
    context: AssetExecutionContext, oltp_db: SqlDatabase, dw_db: SqlDatabase
) -> MaterializeResult:
    round_id = round_id_of(context)
    started = time.perf_counter()
    with oltp_db.get_engine().connect() as oltp_conn, dw_engine(dw_db).begin() as dw_conn:
        counts = load_round_ratings(oltp_conn, dw_conn, round_id)
        problems = _compare_with_oltp(oltp_conn, dw_conn, round_id)
        results = dw_conn.execute(
            select(func.count())
            .select_from(dw.long_comp_result)
            .where(dw.long_comp_result.c.round_id == round_id)
        ).scalar_one()
    return MaterializeResult(
        metadata={
            **counts,
            "seconds": round(time.perf_counter() - started, 3),
            "dagster/row_count": results,
            "dagster/table_name": "long_comp_result",
        },
        check_results=[
            AssetCheckResult(
                check_name="dw_matches_oltp",
                passed=not problems,
                severity=AssetCheckSeverity.WARN,  # advisory: the stats are built from the DW either way
                metadata={"problems": "; ".join(problems) or "none"},
            )
        ],
    )
