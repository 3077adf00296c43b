"""The topcoder_dw tables the marathon loads write (spec 2.4/2.5, decision 9.6), created by the
project on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
)

metadata = MetaData()

coder = Table(
    "coder",
    metadata,
    Column("coder_id", Integer, primary_key=True, autoincrement=False),
    Column("handle", String(50), nullable=False),
    Column("status", CHAR(1), nullable=False),
    Column("country_code", String(3)),
    Column("state_code", String(2)),
    Column("member_since", DateTime),
    Column("modify_date", DateTime),
)

round_ = Table(
    "round",
    metadata,
    Column("round_id", Integer, primary_key=True, autoincrement=False),
    Column("contest_id", Integer, nullable=False),
    Column("contest_name", String(100)),
    Column("name", String(100)),
    Column("short_name", String(50)),
    Column("round_type_id", Integer),
    Column("rated_ind", Integer, nullable=False),
    Column("start_date", DateTime),
    Column("rating_order", Integer),  # position among rated marathon rounds, oldest first
    Column("failed", Integer, nullable=False, server_default="0"),
)

algo_rating = Table(
    "algo_rating",
    metadata,
    Column("coder_id", Integer, nullable=False),
    Column("algo_rating_type_id", Integer, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("vol", Integer, nullable=False),
    Column("num_ratings", Integer, nullable=False),
    Column("highest_rating", Integer),
    Column("lowest_rating", Integer),
    Column("first_rated_round_id", Integer),
    Column("last_rated_round_id", Integer),
    Column("num_competitions", Integer),
    PrimaryKeyConstraint("coder_id", "algo_rating_type_id"),
)

long_comp_result = Table(
    "long_comp_result",
    metadata,
    Column("round_id", Integer, nullable=False),
    Column("coder_id", Integer, nullable=False),
    Column("placed", Integer),
    Column("point_total", Numeric(14, 2)),
    Column("system_point_total", Numeric(14, 2)),
    Column("num_submissions", Integer),
    Column("attended", CHAR(1), nullable=False),
    Column("old_rating", Integer),
    Column("new_rating", Integer),
    Column("old_vol", Integer),
    Column("new_vol", Integer),
    Column("rated_ind", Integer, nullable=False),
    Column("advanced", CHAR(1)),
    Column("old_rating_id", Integer),
    Column("new_rating_id", Integer),
    Column("provisional_placed", Integer),
    Column("num_ratings", Integer),
    PrimaryKeyConstraint("round_id", "coder_id"),
)

algo_rating_history = Table(
    "algo_rating_history",
    metadata,
    Column("coder_id", Integer, nullable=False),
    Column("round_id", Integer, nullable=False),
    Column("algo_rating_type_id", Integer, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("vol", Integer, nullable=False),
    Column("num_ratings", Integer, nullable=False),
    PrimaryKeyConstraint("coder_id", "round_id", "algo_rating_type_id"),
)

coder_rank = Table(
    "coder_rank",
    metadata,
    Column("coder_id", Integer, nullable=False),
    Column("algo_rating_type_id", Integer, nullable=False),
    Column("coder_rank_type_id", Integer, nullable=False),  # 1 overall, 2 active
    Column("rank", Integer, nullable=False),
    Column("percentile", Float, nullable=False),
    Column("round_id", Integer, nullable=False),  # the round the snapshot was taken at
    PrimaryKeyConstraint("coder_id", "algo_rating_type_id", "coder_rank_type_id"),
)

coder_rank_history = Table(
    "coder_rank_history",
    metadata,
    Column("coder_id", Integer, nullable=False),
    Column("round_id", Integer, nullable=False),
    Column("algo_rating_type_id", Integer, nullable=False),
    Column("coder_rank_type_id", Integer, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("percentile", Float, nullable=False),
    PrimaryKeyConstraint("coder_id", "round_id", "algo_rating_type_id", "coder_rank_type_id"),
)

school = Table(
    "school",
    metadata,
    Column("school_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100)),
)

current_school = Table(
    "current_school",
    metadata,
    Column("coder_id", Integer, primary_key=True, autoincrement=False),
    Column("school_id", Integer, nullable=False),
)

language = Table(
    "language",
    metadata,
    Column("language_id", Integer, primary_key=True, autoincrement=False),
    Column("language_name", String(50), nullable=False),
)

# one row per submission of the round (spec 2.5 step 6); submit_time is epoch ms, as OLTP stores it
long_problem_submission = Table(
    "long_problem_submission",
    metadata,
    Column("round_id", Integer, nullable=False),
    Column("coder_id", Integer, nullable=False),
    Column("submission_number", Integer, nullable=False),
    Column("example", Integer, nullable=False),  # 0/1
    Column("submit_time", BigInteger),
    Column("language_id", Integer),
    Column("submission_points", Numeric(14, 2)),
    Column("last_submission", Integer, nullable=False),  # 0/1
    PrimaryKeyConstraint("round_id", "coder_id", "submission_number", "example"),
)

# The current ranks within a country, a US state and a school: the coder_rank population of each
# rank type, grouped (RankService, spec 2.5).


def _group_rank_table(name: str, group: Column) -> Table:
    return Table(
        name,
        metadata,
        Column("coder_id", Integer, nullable=False),
        Column("algo_rating_type_id", Integer, nullable=False),
        Column("coder_rank_type_id", Integer, nullable=False),  # 1 overall, 2 active
        group,
        Column("rank", Integer, nullable=False),
        Column("percentile", Float, nullable=False),
        PrimaryKeyConstraint("coder_id", "algo_rating_type_id", "coder_rank_type_id"),
    )


country_coder_rank = _group_rank_table(
    "country_coder_rank", Column("country_code", String(3), nullable=False)
)
state_coder_rank = _group_rank_table("state_coder_rank", Column("state_code", String(2), nullable=False))
school_coder_rank = _group_rank_table("school_coder_rank", Column("school_id", Integer, nullable=False))

# Runs of consecutive marathon achievements (loadStreaks, spec 2.5); types 8-11, see rules.dw_logic.streaks
streak = Table(
    "streak",
    metadata,
    Column("coder_id", Integer, nullable=False),
    Column("streak_type_id", Integer, nullable=False),
    Column("start_round_id", Integer, nullable=False),
    Column("end_round_id", Integer, nullable=False),
    Column("length", Integer, nullable=False),
    Column("is_current", Integer, nullable=False),  # 0/1
    PrimaryKeyConstraint("coder_id", "streak_type_id", "start_round_id"),
)

# The embedded stand-in for the member search index: the same documents an OpenSearch index gets.
member_search_document = Table(
    "member_search_document",
    metadata,
    Column("coder_id", Integer, primary_key=True, autoincrement=False),
    Column("handle", String(50), nullable=False),
    Column("document", JSON, nullable=False),
    Column("indexed_at", DateTime, nullable=False),
)

# Not topcoder_dw tables: the platform's own bookkeeping of what it published (prefix mmp_).
# A round's load moves every coder's rank, so member_stats republishes the coders whose rank rows
# differ from those their stats item was built with; the search index takes every coder whose stats
# were published after the version it indexed. Rounds processed in any order end the same.
member_profile_state = Table(
    "mmp_member_profile_state",
    metadata,
    Column("coder_id", Integer, primary_key=True, autoincrement=False),
    Column("ranks", String(200), nullable=False),  # rules.member_stats.rank_fingerprint
    Column("stats_version", Integer, nullable=False),
    Column("indexed_version", Integer, nullable=False),
)
# one row per named lock: updating it serializes writers (a row lock on PostgreSQL, the write lock on SQLite)
platform_lock = Table("mmp_lock", metadata, Column("name", String(50), primary_key=True))


def create_dw_schema(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)
