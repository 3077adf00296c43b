"""The member API's item shapes, built from DW facts (pure): the marathon block, the totals it feeds,
maxRating, history, other writers' tracks kept, and what is republished when ranks move."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from mm_platform.marathon.rules.member_stats import (
    NO_RANKS,
    LanguageUse,
    MarathonFacts,
    RoundResult,
    UnmergeableItem,
    coders_to_republish,
    default_language,
    epoch_ms,
    history_item,
    rank_fingerprint,
    search_document,
    stats_item,
)

NOW_MS = 1_711_972_800_123
MARCH = epoch_ms(dt.datetime(2024, 3, 1))


def result(
    round_id: int,
    month: int,
    placed: int | None,
    rating: int | None,
    attended: bool = True,
    rated: bool = True,
    submissions: int | None = 4,
) -> RoundResult:
    return RoundResult(
        round_id,
        f"Marathon Match {round_id}",
        dt.datetime(2024, month, 1),
        placed,
        attended,
        rated,
        rating,
        submissions,
        50.0 + round_id if rating else None,
    )


TOURIST = MarathonFacts(
    coder_id=7,
    handle="Tourist",
    rating={"rating": 2900, "vol": 250, "num_ratings": 3, "lowest_rating": 2300, "highest_rating": 2900},
    ranks={1: (1, 99.456), 2: (2, 98.25)},
    country_rank=1,
    school_rank=3,
    results=(
        result(3, 3, 1, 2900, submissions=10),
        result(1, 1, 4, 2500, submissions=2),
        result(2, 2, 12, 2300, submissions=3),
        result(4, 2, None, None, attended=False, rated=False, submissions=None),
        result(5, 3, 2, None, rated=False, submissions=5),
    ),
    languages=(LanguageUse("Java", 2, MARCH), LanguageUse("C++", 6, MARCH + 5_000), LanguageUse(None, 1, 7)),
)


def science(item: dict) -> dict:
    return json.loads(item["DATA_SCIENCE"])


def test_a_new_item_has_the_member_api_shape() -> None:
    item = stats_item(None, TOURIST, NOW_MS)
    assert (item["userId"], item["handle"], item["handleLower"]) == (7, "Tourist", "tourist")
    assert item["maxRating"] == {"rating": 2900, "track": "DATA_SCIENCE", "subTrack": "MARATHON_MATCH"}
    assert (item["challenges"], item["wins"]) == (4, 1)
    assert (item["createdAt"], item["updatedAt"], item["createdBy"], item["updatedBy"]) == (
        NOW_MS,
        NOW_MS,
        "mm_platform",
        "mm_platform",
    )
    mm = science(item)["MARATHON_MATCH"]
    assert mm == {
        "challenges": 4,  # attended rounds, rated or not
        "wins": 1,
        "mostRecentEventName": "Marathon Match 5",  # same date as round 3, later id
        "mostRecentEventDate": MARCH,
        "mostRecentSubmission": MARCH + 5_000,
        "rank": {
            "rating": 2900,
            "competitions": 3,
            "avgRank": 4.75,  # (1 + 4 + 12 + 2) / 4
            "avgNumSubmissions": 5.0,  # (10 + 2 + 3 + 5) / 4
            "bestRank": 1,
            "topFiveFinishes": 3,
            "topTenFinishes": 3,
            "rank": 1,
            "percentile": 99.46,
            "volatility": 250,
            "minimumRating": 2300,
            "maximumRating": 2900,
            "countryRank": 1,
            "schoolRank": 3,
            "defaultLanguage": "C++",
        },
    }
    assert isinstance(mm["rank"]["percentile"], float) and isinstance(mm["rank"]["avgRank"], float)
    assert {k: science(item)[k] for k in ("challenges", "wins", "mostRecentEventDate")} == {
        "challenges": 4,
        "wins": 1,
        "mostRecentEventDate": MARCH,
    }


def test_a_member_without_rating_gets_no_max_rating_and_empty_rank_fields() -> None:
    newbie = MarathonFacts(
        coder_id=8, handle="newbie", rating=None, results=(result(9, 2, 7, None, rated=False),)
    )
    item = stats_item(None, newbie, NOW_MS)
    assert "maxRating" not in item
    rank = science(item)["MARATHON_MATCH"]["rank"]
    assert (rank["rating"], rank["rank"], rank["competitions"], rank["bestRank"]) == (None, None, 0, 7)


# what the member API's other writers left in an item, in their own JSON.stringify form
SRM = {"challenges": 20, "wins": 2, "mostRecentEventName": "SRM 850", "mostRecentEventDate": MARCH + 1,
       "mostRecentSubmission": MARCH + 2, "rank": {"rating": 3100, "percentile": 99.9}}  # fmt: skip
DEVELOP = '{"challenges":5,"wins":1,"subTracks":[{"name":"CODE","wins":1,"rank":{"rating":1500.5}}]}'
EXISTING = {
    "userId": Decimal(7),
    "handle": "Tourist",
    "handleLower": "tourist",
    "maxRating": {"rating": Decimal(3100), "track": "DATA_SCIENCE", "subTrack": "SRM"},
    "challenges": Decimal(30),
    "wins": Decimal(3),
    "DEVELOP": DEVELOP,
    "DESIGN": '{"challenges":1,"wins":0,"subTracks":[]}',
    "COPILOT": '{"contests":4,"projects":2,"fulfillment":97.5}',
    "DATA_SCIENCE": json.dumps({"challenges": 21, "wins": 2, "SRM": SRM}, separators=(",", ":")),
    "groupId": "g-1",
    "createdAt": Decimal(1_500_000_000_000),
    "createdBy": "member-api",
    "updatedAt": Decimal(1_600_000_000_000),
    "updatedBy": "member-api",
}


def test_other_writers_tracks_are_kept_byte_for_byte_and_feed_the_totals() -> None:
    item = stats_item(EXISTING, TOURIST, NOW_MS)
    for name in ("DEVELOP", "DESIGN", "COPILOT", "groupId", "createdAt", "createdBy"):
        assert item[name] == EXISTING[name]
    # SRM inside DATA_SCIENCE: the same JSON text as the writer stored it
    assert json.dumps(SRM, separators=(",", ":")) in item["DATA_SCIENCE"]
    data_science = science(item)
    assert data_science["SRM"] == SRM
    assert (data_science["challenges"], data_science["wins"]) == (20 + 4, 2 + 1)
    # the latest event over SRM and marathon: SRM 850 is a millisecond after round 5's date
    assert (data_science["mostRecentEventName"], data_science["mostRecentSubmission"]) == (
        "SRM 850",
        MARCH + 2,
    )
    assert (item["challenges"], item["wins"]) == (24 + 5 + 1, 3 + 1 + 0)  # DATA_SCIENCE + DEVELOP + DESIGN
    # SRM's 3100 beats the marathon's 2900
    assert item["maxRating"] == {"rating": 3100, "track": "DATA_SCIENCE", "subTrack": "SRM"}
    assert (item["updatedAt"], item["updatedBy"]) == (NOW_MS, "mm_platform")


def test_a_stale_marathon_max_rating_is_replaced_and_another_tracks_higher_one_kept() -> None:
    stale = {**EXISTING, "DATA_SCIENCE": "{}", "maxRating": {"rating": 3500, "track": "DATA_SCIENCE",
             "subTrack": "MARATHON_MATCH"}}  # fmt: skip
    assert stale_max(stale) == {"rating": 2900, "track": "DATA_SCIENCE", "subTrack": "MARATHON_MATCH"}
    develop = {**stale, "maxRating": {"rating": Decimal(3000), "track": "DEVELOP", "subTrack": "CODE"}}
    assert stale_max(develop) == {"rating": Decimal(3000), "track": "DEVELOP", "subTrack": "CODE"}
    equal = {**stale, "maxRating": {"rating": Decimal(2900), "track": "DEVELOP", "subTrack": "CODE"}}
    assert stale_max(equal)["subTrack"] == "MARATHON_MATCH"  # "unless a higher one exists"
    # an SRM maxRating the SRM block no longer supports (its rating fell) is recomputed from the block
    fell = {**EXISTING, "DATA_SCIENCE": json.dumps({"SRM": {**SRM, "rank": {"rating": 2000}}})}
    assert stale_max(fell) == {"rating": 2900, "track": "DATA_SCIENCE", "subTrack": "MARATHON_MATCH"}


def stale_max(existing: dict) -> dict:
    return stats_item(existing, TOURIST, NOW_MS)["maxRating"]


def test_an_item_whose_track_is_not_json_is_refused_not_overwritten() -> None:
    with pytest.raises(UnmergeableItem, match="DATA_SCIENCE of member 7 is not JSON"):
        stats_item({**EXISTING, "DATA_SCIENCE": "{not json"}, TOURIST, NOW_MS)
    with pytest.raises(UnmergeableItem, match="DEVELOP of member 7 is not a JSON object"):
        stats_item({**EXISTING, "DEVELOP": "[1, 2]"}, TOURIST, NOW_MS)


def test_history_has_one_entry_per_rated_round_oldest_first_and_keeps_srm_history() -> None:
    srm_history = {"SRM": {"history": [{"challengeId": 1, "rating": 1200}]}}
    existing = {"userId": 7, "DATA_SCIENCE": json.dumps(srm_history), "DEVELOP": DEVELOP}
    item = history_item(existing, TOURIST, NOW_MS)
    assert item["DEVELOP"] == DEVELOP
    data_science = science(item)
    assert data_science["SRM"] == srm_history["SRM"]
    assert data_science["MARATHON_MATCH"]["history"] == [
        {
            "challengeId": rid,
            "challengeName": f"Marathon Match {rid}",
            "date": epoch_ms(dt.datetime(2024, rid, 1)),
            "rating": rating,
            "placement": placed,
            "percentile": 50.0 + rid,
        }
        for rid, rating, placed in ((1, 2500, 4), (2, 2300, 12), (3, 2900, 1))
    ]


def test_the_search_document_has_the_same_structure_as_plain_json() -> None:
    document = search_document(stats_item(EXISTING, TOURIST, NOW_MS))
    assert document["DATA_SCIENCE"]["MARATHON_MATCH"]["rank"]["rating"] == 2900
    assert document["DEVELOP"]["subTracks"][0]["rank"]["rating"] == 1500.5
    assert (document["userId"], document["handleLower"], document["maxRating"]["rating"]) == (
        7,
        "tourist",
        3100,
    )
    json.dumps(document)  # no Decimal left


def test_default_language_is_the_most_used_then_the_latest_used() -> None:
    assert default_language([]) is None
    assert default_language([LanguageUse(None, 9, 5)]) is None
    uses = [LanguageUse("Java", 3, 10), LanguageUse("C++", 3, 20), LanguageUse("Python", 2, 99)]
    assert default_language(uses) == "C++"


def test_coders_whose_ranks_or_item_shape_moved_are_republished() -> None:
    assert rank_fingerprint({2: (3, 60.123456), 1: (5, 50.0), "country1": (2, 10.0)}) == (
        "v2|1:5:50.0|2:3:60.1235|country1:2:10.0"
    )
    one, six, seven = (rank_fingerprint({1: (r, 50.0)}) for r in (5, 6, 7))
    current = {1: one, 2: six, 3: seven}
    published = {1: one, 2: one, 4: rank_fingerprint({1: (9, 10.0)})}
    # 2 moved, 3 was never published, 4 lost its ranks; 1 is as published
    assert coders_to_republish(current, published) == {2, 3, 4}
    assert coders_to_republish(current, current) == set()
    # published in the old item shape (no "v2|"), ranked or not: published again, once
    assert coders_to_republish({1: one}, {1: "1:5:50.0", 5: ""}) == {1, 5}
    assert coders_to_republish({}, {5: NO_RANKS}) == set()
