"""Merging staged parts and slicing records (pure)."""

from __future__ import annotations

import pandas as pd

from mm_platform.verified_fan.rules.records import (
    entry_record,
    has_rank0,
    latest_per_member,
    rank0_count,
    rank0_rows,
    registrant_fields,
    rejected_rows,
    rows,
    slices,
    unknown_campaign_reason,
    unknown_campaign_refusals,
)
from mm_platform.verified_fan.rules.scoring import SCRUBBED, read_csv, validate
from mm_platform_tests.verified_fan.conftest import TOUR


def staged(data: bytes, object_key: str) -> pd.DataFrame:
    frame = validate(read_csv(data), SCRUBBED).valid
    return frame.assign(
        file_ref=f"{object_key}@etag@t", object_key=object_key, upload_order=f"t|{object_key}|etag"
    )


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
        "uploadOrder": "t|tour.csv|etag",
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


def test_only_records_with_a_first_choice_event_go_to_the_entry_service() -> None:
    frame = staged(TOUR, "tour.csv")
    records = rows(frame)
    assert [r["member_key"] for r in rank0_rows(records)] == ["m1", "m3", "g5"]  # m2 named no event
    assert not has_rank0({"rank0_event": None}) and not has_rank0({"rank0_event": ""})
    assert has_rank0({"rank0_event": "ev1"})
    # the vectorised count agrees with the per-record rule
    assert rank0_count(frame) == len(rank0_rows(records)) == 3
    assert rank0_count(latest_per_member([])) == 0  # no records: not even a rank0_event column


def test_every_record_of_a_campaign_the_campaign_service_does_not_know_is_refused() -> None:
    records = rows(staged(TOUR, "tour.csv"))
    reason = "campaign c1 is unknown to the campaign service"
    assert unknown_campaign_reason("c1") == reason
    assert unknown_campaign_refusals("c1", None, records) == [
        ("m1", reason),
        ("m2", reason),
        ("m3", reason),
        ("g5", reason),
    ]
    assert unknown_campaign_refusals("c1", {"id": "c1"}, records) == []
    assert unknown_campaign_refusals("c1", {}, records) == []  # known, whatever its properties


def test_refused_records_are_traced_back_to_their_file_and_line() -> None:
    records = rows(staged(TOUR, "tour.csv"))
    assert rejected_rows(records, [("m3", "too big")], "scrubbed", "dynamodb") == [
        {
            "file_ref": "tour.csv@etag@t",
            "object_key": "tour.csv",
            "kind": "scrubbed",
            "line": 5,  # the higher-scored of m3's two rows (the header is line 1)
            "campaign_id": "c1",
            "member_key": "m3",
            "stage": "dynamodb",
            "reason": "too big",
        }
    ]
    assert rejected_rows(records, [], "scrubbed", "dynamodb") == []
