"""Normalized records and the shape each destination takes (pure: no I/O, no Dagster).

A staged part holds one file's normalized rows of one campaign (columns of `scoring.validate`):
campaign_id, member_key, member_id, global_user_id, email, score, verdict, selected, events,
rank0_event, line. Loading adds file_ref and object_key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from mm_platform.verified_fan.rules.scoring import VERIFIED, event_list


def latest_per_member(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The parts of one campaign, given in upload order, as one record per member: a later file
    replaces what an earlier one said (spec: the file processed later wins)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=["member_key", "line", "file_ref", "object_key"])
    merged = pd.concat(frames, ignore_index=True)
    return merged.drop_duplicates(subset="member_key", keep="last").reset_index(drop=True)


SLICE_ROWS = 100_000


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python rows (None for missing values), fast even for a million rows."""
    if frame.empty:
        return []
    return pa.Table.from_pandas(frame, preserve_index=False).to_pylist()


def slices(frame: pd.DataFrame, size: int | None = None) -> Iterator[list[dict[str, Any]]]:
    """The frame's rows `size` (default SLICE_ROWS) at a time: a campaign of millions of members never
    sits in memory as Python objects all at once (about 1.5 KB a member)."""
    size = size or SLICE_ROWS
    for start in range(0, len(frame), size):
        yield rows(frame.iloc[start : start + size])


def _stored_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What the demand table keeps of any scored row, and the file it came from."""
    return {
        "memberId": row["member_id"],
        "globalUserId": row["global_user_id"],
        "email": row["email"],
        "score": row["score"],
        "selected": bool(row["selected"]),
        "events": event_list(row["events"] or ""),
        "file": row["object_key"],
    }


def registrant_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A member's state in the demand table (`campaign:{id}` / `member:{key}`)."""
    return {**_stored_fields(row), "verdict": row["verdict"], "rank0Event": row["rank0_event"]}


def fanlist_fields(row: dict[str, Any], campaign: dict[str, Any]) -> dict[str, Any]:
    """A fanlist entry (`fan/sid/email:{identifier}` / `campaign:{id}`) with the campaign's properties."""
    return {**_stored_fields(row), "campaignId": row["campaign_id"], "campaign": campaign}


def score_record(row: dict[str, Any]) -> dict[str, Any]:
    """A normalized registrant as published on the scores stream."""
    return {
        "campaignId": row["campaign_id"],
        "memberId": row["member_key"],
        "globalUserId": row["global_user_id"] or None,
        "email": row["email"] or None,
        "score": row["score"],
        "verdict": row["verdict"],
        "isVerified": row["verdict"] == VERIFIED,
        "selected": bool(row["selected"]),
        "events": event_list(row["events"] or ""),
        "rank0Event": row["rank0_event"],
    }


def entry_record(row: dict[str, Any]) -> dict[str, Any]:
    """What the Entry Service's /scoring takes for a rank-0 record."""
    return {
        "memberId": row["member_key"],
        "globalUserId": row["global_user_id"] or None,
        "email": row["email"] or None,
        "eventId": row["rank0_event"],
        "score": row["score"],
        "verdict": row["verdict"],
        "selected": bool(row["selected"]),
    }
