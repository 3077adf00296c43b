"""The OLTP tables the marathon chain reads and writes (informixoltp + tcs_catalog, spec section 4.1).

Column names and types follow the Informix DDL so production can point at a replica of the real
schema; the project creates them on SQLite and PostgreSQL for the embedded stack and the tests.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    inspect,
    text,
)

MARATHON_RATING_TYPE_ID = 3  # algo_rating_type_id of Marathon Match ratings
ROUND_MAPPING_INFO_TYPE_ID = 56  # project_info type whose value is the round id of a legacy project
MARATHON_PROJECT_CATEGORY_ID = 37  # tcs_catalog project_category of Marathon Matches
LONG_ROUND_TYPE_IDS = (13, 19)  # marathon match round types (long round, long tournament round)

metadata = MetaData()

contest = Table(
    "contest",
    metadata,
    Column("contest_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100)),
    Column("start_date", DateTime),
    Column("end_date", DateTime),
    Column("status", CHAR(1), server_default="A"),
)

round_ = Table(
    "round",
    metadata,
    Column("round_id", Integer, primary_key=True, autoincrement=False),
    Column("contest_id", Integer, ForeignKey("contest.contest_id"), nullable=False),
    Column("name", String(100)),
    Column("short_name", String(50)),
    Column("round_type_id", Integer, nullable=False, server_default="13"),
    Column("status", CHAR(1), server_default="A"),
    Column("rated_ind", Numeric(1, 0), nullable=False, server_default="0"),
    Column("tc_direct_project_id", Integer),
)

# tcs_catalog:project — the legacy challenge; category 37 is a Marathon Match
project = Table(
    "project",
    metadata,
    Column("project_id", Integer, primary_key=True, autoincrement=False),
    Column("project_category_id", Integer, nullable=False),
    Column("project_status_id", Integer, nullable=False, server_default="1"),
)

# tcs_catalog:project_info — type 56 maps a legacy project (challenge) id to its round id (as text)
project_info = Table(
    "project_info",
    metadata,
    Column("project_id", Integer, nullable=False),
    Column("project_info_type_id", Integer, nullable=False),
    Column("value", String(255), nullable=False),
    PrimaryKeyConstraint("project_id", "project_info_type_id"),
)

coder = Table(
    "coder",
    metadata,
    Column("coder_id", Integer, primary_key=True, autoincrement=False),
    Column("handle", String(50), nullable=False),
    Column("status", CHAR(1), nullable=False, server_default="A"),
    Column("country_code", String(3)),
    Column("state_code", String(2)),
    Column("member_since", DateTime),
    Column("modify_date", DateTime),
)

algo_rating = Table(
    "algo_rating",
    metadata,
    Column("coder_id", Integer, nullable=False),
    Column("algo_rating_type_id", Integer, nullable=False),
    Column("rating", Numeric(5, 0), nullable=False, server_default="0"),
    Column("vol", Numeric(5, 0), nullable=False, server_default="0"),
    Column("round_id", Numeric(6, 0)),
    Column("num_ratings", Numeric(6, 0), nullable=False, server_default="0"),
    Column("modify_date", DateTime),
    PrimaryKeyConstraint("coder_id", "algo_rating_type_id"),
)

long_comp_result = Table(
    "long_comp_result",
    metadata,
    Column("round_id", Integer, nullable=False),
    Column("coder_id", Integer, nullable=False),
    Column("point_total", Numeric(14, 2)),
    Column("attended", CHAR(1), nullable=False, server_default="N"),
    Column("placed", Integer),
    Column("system_point_total", Numeric(14, 2)),
    Column("old_rating", Numeric(5, 0)),
    Column("new_rating", Numeric(5, 0)),
    Column("old_vol", Numeric(5, 0)),
    Column("new_vol", Numeric(5, 0)),
    Column("rated_ind", Numeric(1, 0), nullable=False, server_default="0"),
    Column("advanced", CHAR(1), nullable=False, server_default="N"),
    PrimaryKeyConstraint("round_id", "coder_id"),
)

round_registration = Table(
    "round_registration",
    metadata,
    Column("round_id", Integer, nullable=False),
    Column("coder_id", Integer, nullable=False),
    Column("timestamp", DateTime),
    Column("eligible", Numeric(1, 0), server_default="1"),
    PrimaryKeyConstraint("round_id", "coder_id"),
)

long_component_state = Table(
    "long_component_state",
    metadata,
    Column("long_component_state_id", Integer, primary_key=True, autoincrement=False),
    Column("round_id", Integer, nullable=False),
    Column("coder_id", Integer, nullable=False),
    Column("component_id", Integer, nullable=False),
    Column("points", Numeric(14, 2)),
    Column("status_id", Integer),
    Column("submission_number", Integer, nullable=False, server_default="0"),
    Column("example_submission_number", Integer, nullable=False, server_default="0"),
    Index("ix_lcs_round_coder", "round_id", "coder_id"),
)

long_submission = Table(
    "long_submission",
    metadata,
    Column("long_component_state_id", Integer, nullable=False),
    Column("submission_number", Integer, nullable=False),
    Column("example", Integer, nullable=False, server_default="0"),
    Column("submission_text", Text),
    Column("open_time", BigInteger),  # epoch milliseconds, as Informix stores them (DECIMAL(14,0))
    Column("submit_time", BigInteger),
    Column("submission_points", Numeric(14, 2)),
    Column("language_id", Integer),
    PrimaryKeyConstraint("long_component_state_id", "submission_number", "example"),
)

# informixoltp:school / current_school — a member's current school, copied to the DW by the coders load
school = Table(
    "school",
    metadata,
    Column("school_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
)

current_school = Table(
    "current_school",
    metadata,
    Column("coder_id", Integer, primary_key=True, autoincrement=False),
    Column("school_id", Integer, nullable=False),
)

# informixoltp:language — the languages long_submission.language_id refers to
language = Table(
    "language",
    metadata,
    Column("language_id", Integer, primary_key=True, autoincrement=False),
    Column("language_name", String(50), nullable=False),
)

# The v5 submissions of a legacy project, as the Submission API (and LPM's tcs_catalog.submission)
# hold them: final_score is the reviewSummation's aggregate score, NULL until one exists.
submission = Table(
    "submission",
    metadata,
    Column("submission_id", String(64), primary_key=True),
    Column("project_id", Integer, nullable=False),
    Column("member_id", Integer, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("initial_score", Numeric(14, 2)),
    Column("final_score", Numeric(14, 2)),
    Index("ix_submission_project_member", "project_id", "member_id"),
)


def create_oltp_schema(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)
    _widen_submission_times(engine)


def _widen_submission_times(engine: Engine) -> None:
    """An embedded PostgreSQL OLTP made before submit/open times became epoch milliseconds holds
    them as INTEGER, too small for them (SQLite integers are 64-bit already)."""
    if engine.dialect.name != "postgresql":
        return
    columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("long_submission")}
    narrow = [name for name in ("open_time", "submit_time") if not isinstance(columns[name], BigInteger)]
    with engine.begin() as conn:
        for name in narrow:
            conn.execute(text(f"ALTER TABLE long_submission ALTER COLUMN {name} TYPE BIGINT"))
