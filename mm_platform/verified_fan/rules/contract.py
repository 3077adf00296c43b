"""The scored-file contract as pandera schemas: the readable, checkable statement of what
`scoring.validate` enforces row by row with Arrow kernels (the tests keep the two in agreement).

The schemas apply to a file read with every column as text (`scoring.read_csv(...).to_pandas()`).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from mm_platform.verified_fan.rules.scoring import (
    CAMPAIGN_ID_RULE,
    EMAIL,
    FALSE_WORDS,
    FANLIST,
    MAX_CAMPAIGN_ID,
    MAX_MEMBER_KEY_BYTES,
    MEMBER_KEY_RULE,
    NUMBER,
    REJECTED,
    SCRUBBED,
    TRUE_WORDS,
    UNUSABLE_CAMPAIGN_ID,
    VERIFIED,
)


def _clean(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip()


def _member_key(frame: pd.DataFrame, with_email: bool) -> pd.Series:
    """member_id, else global_user_id (fanlist: else the lower-cased email); "" when none."""
    key = pd.Series("", index=frame.index)
    for column in ["member_id", "global_user_id"] + (["email"] if with_email else []):
        if column in frame.columns:
            value = _clean(frame[column])
            key = key.where(key != "", value.str.lower() if column == "email" else value)
    return key


def _member_key_present(frame: pd.DataFrame, with_email: bool) -> pd.Series:
    return _member_key(frame, with_email) != ""


def _member_key_short_enough(frame: pd.DataFrame, with_email: bool) -> pd.Series:
    return _member_key(frame, with_email).map(lambda k: len(k.encode("utf-8"))) <= MAX_MEMBER_KEY_BYTES


def _finite_number(series: pd.Series) -> pd.Series:
    """A number by its spelling that stays finite once converted ("1e999" overflows)."""
    cleaned = _clean(series)
    number = cleaned.str.match(NUMBER)
    values = pd.to_numeric(cleaned.where(number, "0"), errors="coerce")
    return number & values.abs().lt(float("inf"))


def _usable_campaign_id(series: pd.Series) -> pd.Series:
    cleaned = _clean(series)
    return (cleaned.str.len() <= MAX_CAMPAIGN_ID) & ~cleaned.str.contains(UNUSABLE_CAMPAIGN_ID, regex=True)


def _schema(kind: str) -> pa.DataFrameSchema:
    columns = {
        "campaign_id": pa.Column(
            str,
            [
                pa.Check(lambda s: _clean(s) != "", name="campaign_id is not empty"),
                pa.Check(_usable_campaign_id, name=CAMPAIGN_ID_RULE),
            ],
        ),
        "member_id": pa.Column(str, required=False),
        "global_user_id": pa.Column(str, required=False),
        "email": pa.Column(
            str,
            pa.Check(
                lambda s: (_clean(s) == "") | _clean(s).str.lower().str.match(EMAIL),
                name="email looks like an address",
            ),
            required=False,
        ),
        "score": pa.Column(str, pa.Check(_finite_number, name="score is a finite number")),
        "selected": pa.Column(
            str,
            pa.Check(
                lambda s: _clean(s).str.lower().isin(TRUE_WORDS | FALSE_WORDS),
                name="selected is a boolean word",
            ),
            required=False,
        ),
        "events": pa.Column(str, required=False, description="'|'-separated event ids, first choice first"),
    }
    if kind == SCRUBBED:
        columns["verdict"] = pa.Column(
            str,
            pa.Check(
                lambda s: _clean(s).str.lower().isin([VERIFIED, REJECTED]),
                name="verdict is verified or rejected",
            ),
        )
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(lambda f: _member_key_present(f, kind == FANLIST), name="a member key is present"),
            pa.Check(lambda f: _member_key_short_enough(f, kind == FANLIST), name=MEMBER_KEY_RULE),
        ],
        strict=False,
        name=f"{kind} scored file",
    )


SCRUBBED_SCHEMA = _schema(SCRUBBED)
FANLIST_SCHEMA = _schema(FANLIST)


def failing_rows(frame: pd.DataFrame, kind: str) -> set[int]:
    """0-based positions of the rows the schema refuses (all failures, lazily collected)."""
    schema = SCRUBBED_SCHEMA if kind == SCRUBBED else FANLIST_SCHEMA
    try:
        schema.validate(frame.reset_index(drop=True), lazy=True)
    except pa.errors.SchemaErrors as exc:
        return {int(i) for i in exc.failure_cases["index"].dropna()}
    return set()


def _records_schema(kind: str) -> pa.DataFrameSchema:
    """What a valid row becomes (`scoring.validate(...).valid`): the contract's real types and which
    columns may be empty. The UI shows it as the column schema of the assets holding the rows."""
    optional_text = {"nullable": True, "description": "optional (an empty string when the file has none)"}
    columns = {
        "campaign_id": pa.Column(str, description=f"required; {CAMPAIGN_ID_RULE}"),
        "member_key": pa.Column(
            str,
            description="member_id, else global_user_id"
            + (", else the lower-cased email" if kind == FANLIST else "")
            + f"; {MEMBER_KEY_RULE}",
        ),
        "member_id": pa.Column(str, **optional_text),
        "global_user_id": pa.Column(str, **optional_text),
        "email": pa.Column(str, nullable=True, description="optional; lower-cased, an address when present"),
        "score": pa.Column(float, pa.Check(lambda s: s.abs() < float("inf")), description="required, finite"),
        "selected": pa.Column(bool, description="true/false/1/0/yes/no in the file; empty is false"),
        "events": pa.Column(str, description="'|'-separated event ids, first choice first; may be empty"),
        "rank0_event": pa.Column(
            str, nullable=True, description="the first-choice event; none without events"
        ),
        "line": pa.Column(int, description="the row's line in the file (the header is line 1)"),
    }
    if kind == SCRUBBED:
        columns["verdict"] = pa.Column(str, pa.Check.isin([VERIFIED, REJECTED]), description="required")
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name=f"{kind} records")


SCRUBBED_RECORDS = _records_schema(SCRUBBED)
FANLIST_RECORDS = _records_schema(FANLIST)
