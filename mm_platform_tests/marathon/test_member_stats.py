from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mm_platform.marathon.rules.member_stats import (
    RoundResult,
    build_member_stats,
    coders_to_republish,
    rank_fingerprint,
    search_document,
)

NOW = dt.datetime(2024, 4, 1, 12, 0, 0, 123456)


def result(
    round_id: int,
    month: int,
    placed: int | None,
    rating: int | None,
    attended: bool = True,
    rated: bool = True,
) -> RoundResult:
    return RoundResult(
        round_id,
        f"MM {round_id}",
        dt.datetime(2024, month, 1),
        placed,
        attended,
        rated,
        rating,
        300 if rating else None,
    )


def test_member_stats_summarise_the_marathon_career() -> None:
    item = build_member_stats(
        {"coder_id": 7, "handle": "tourist", "status": "A", "country_code": "BLR"},
        {"rating": 2900, "vol": 250, "num_ratings": 3},
        {1: (1, 99.5), 2: (2, 98.25)},
        [
            result(3, 3, 1, 2900),
            result(1, 1, 4, 2500),
            result(2, 2, 12, 2300),
            result(4, 2, None, None, attended=False, rated=False),
            result(5, 3, 2, None, rated=False),
        ],
        source_round_id=3,
        updated_at=NOW,
    )
    m = item["marathon"]
    assert (item["coderId"], item["handle"], item["sourceRoundId"]) == (7, "tourist", 3)
    assert (m["rating"], m["volatility"], m["rank"], m["activeRank"]) == (2900, 250, 1, 2)
    assert m["percentile"] == Decimal("99.5")
    assert (m["competitions"], m["wins"], m["topFiveFinishes"], m["topTenFinishes"]) == (4, 1, 3, 3)
    assert (m["maxRating"], m["minRating"]) == (2900, 2300)
    assert m["mostRecentEventDate"] == "2024-03-01T00:00:00"
    assert [h["roundId"] for h in m["ratingHistory"]] == [1, 2, 3]  # oldest first, rated rounds only
    assert item["updatedAt"] == "2024-04-01T12:00:00"


def test_a_member_without_ratings_has_no_empty_values() -> None:
    item = build_member_stats({"coder_id": 8, "handle": "newbie", "status": "A"}, None, {}, [], 3, NOW)
    assert item["marathon"] == {
        "ratedCompetitions": 0,
        "competitions": 0,
        "wins": 0,
        "topFiveFinishes": 0,
        "topTenFinishes": 0,
        "ratingHistory": [],
    }


def test_search_document_is_plain_json() -> None:
    item = build_member_stats(
        {"coder_id": 7, "handle": "Tourist", "status": "A", "country_code": "BLR"},
        {"rating": 2900, "vol": 250, "num_ratings": 3},
        {1: (1, 99.5)},
        [result(3, 3, 1, 2900)],
        3,
        NOW,
    )
    document = search_document(item)
    assert document == {
        "coderId": 7,
        "handle": "Tourist",
        "handleLower": "tourist",
        "countryCode": "BLR",
        "status": "A",
        "mmRating": 2900,
        "mmRank": 1,
        "mmPercentile": 99.5,
        "mmCompetitions": 1,
        "mmWins": 1,
        "mmMaxRating": 2900,
        "mmMostRecentEventDate": "2024-03-01T00:00:00",
        "statsUpdatedAt": "2024-04-01T12:00:00",
    }


def test_coders_whose_ranks_moved_are_republished() -> None:
    assert rank_fingerprint({2: (3, 60.123456), 1: (5, 50.0)}) == "1:5:50.0|2:3:60.1235"
    current = {1: "1:5:50.0", 2: "1:6:40.0", 3: "1:7:30.0"}
    published = {1: "1:5:50.0", 2: "1:5:45.0", 4: "1:9:10.0"}
    # 2 moved, 3 was never published, 4 lost its ranks; 1 is as published
    assert coders_to_republish(current, published) == {2, 3, 4}
    assert coders_to_republish(current, current) == set()
