"""Merging staged parts and slicing records (pure)."""

from __future__ import annotations

import pandas as pd

from mm_platform.verified_fan.rules.records import (
    entry_record,
    latest_per_member,
    registrant_fields,
    rows,
    slices,
)
from mm_platform.verified_fan.rules.scoring import SCRUBBED, read_csv, validate
from mm_platform_tests.verified_fan.conftest import TOUR


def staged(data: bytes, object_key: str) -> pd.DataFrame:
    frame = validate(read_csv(data), SCRUBBED).valid
    return frame.assign(file_ref=f"{object_key}@etag@t", object_key=object_key)


def test_a_later_part_replaces_what_an_earlier_one_said_about_a_member() -> None:
    first = staged(b"campaign_id,member_id,score,verdict\nc1,m1,0.9,verified\nc1,m2,0.5,rejected\n", "a.csv")
    second = staged(b"campaign_id,member_id,score,verdict\nc1,m1,0.1,rejected\nc1,m3,0.5,verified\n", "b.csv")
    merged = latest_per_member([first, second])
    assert merged[["member_key", "verdict", "object_key"]].values.tolist() == [
        ["m2", "rejected", "a.csv"],
        ["m1", "rejected", "b.csv"],
        ["m3", "verified", "b.csv"],
    ]
    assert latest_per_member([]).empty
    assert latest_per_member([first.iloc[0:0], second]).equals(second.reset_index(drop=True))


def test_slices_give_every_row_once_in_order() -> None:
    frame = staged(TOUR, "tour.csv")
    assert [len(chunk) for chunk in slices(frame, size=3)] == [3, 1]
    assert [r for chunk in slices(frame, size=3) for r in chunk] == rows(frame)
    assert list(slices(frame.iloc[0:0])) == []


def test_destination_shapes() -> None:
    m3 = next(r for r in rows(staged(TOUR, "tour.csv")) if r["member_key"] == "m3")
    assert registrant_fields(m3) == {
        "memberId": "m3",
        "globalUserId": "",
        "email": "",
        "score": 0.95,
        "selected": True,
        "events": ["ev3", "ev1"],
        "file": "tour.csv",
        "verdict": "verified",
        "rank0Event": "ev3",
    }
    assert entry_record(m3) == {
        "memberId": "m3",
        "globalUserId": None,
        "email": None,
        "eventId": "ev3",
        "score": 0.95,
        "verdict": "verified",
        "selected": True,
    }
