"""Normalized records and the shape each destination takes (pure: no I/O, no Dagster).

A staged part holds one file's normalized rows of one campaign (columns of `scoring.validate`):
campaign_id, member_key, member_id, global_user_id, email, score, verdict, selected, events,
rank0_event, line. Loading adds file_ref, object_key and upload_order (of the part's file).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
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
        # which file last set the item: a write of an older file is refused (demand_store)
        "uploadOrder": row.get("upload_order"),
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


def has_rank0(row: Mapping[str, Any]) -> bool:
    """Only a record with a first-choice (rank-0) event goes to the Entry Service."""
    return bool(row["rank0_event"])


def rank0_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records the Entry Service scores."""
    return [r for r in rows if has_rank0(r)]


def rank0_count(frame: pd.DataFrame) -> int:
    """How many of the frame's records have a rank-0 event. Vectorised: `validate` leaves no empty
    event (None instead), so "not missing" is the same test as `has_rank0`."""
    return int(frame["rank0_event"].notna().sum()) if len(frame) else 0


def unknown_campaign_reason(campaign_id: str) -> str:
    return f"campaign {campaign_id} is unknown to the campaign service"


def unknown_campaign_refusals(
    campaign_id: str, properties: Mapping[str, Any] | None, records: Iterable[Mapping[str, Any]]
) -> list[tuple[str, str]]:
    """(member key, reason) of every record refused because the Campaign Service does not know the
    campaign (`properties` None): a fanlist entry is saved with its campaign's properties or not at all."""
    if properties is not None:
        return []
    reason = unknown_campaign_reason(campaign_id)
    return [(r["member_key"], reason) for r in records]


def rejected_rows(
    records: Iterable[Mapping[str, Any]], refused: Iterable[tuple[str, str]], kind: str, stage: str
) -> list[dict[str, Any]]:
    """The ledger's rows for records refused at `stage`: (member key, reason) traced back to the file
    and line the record came from."""
    by_key = {r["member_key"]: r for r in records}
    return [
        {
            "file_ref": by_key[key]["file_ref"],
            "object_key": by_key[key]["object_key"],
            "kind": kind,
            "line": int(by_key[key]["line"]),
            "campaign_id": by_key[key]["campaign_id"],
            "member_key": key,
            "stage": stage,
            "reason": reason,
        }
        for key, reason in refused
    ]
