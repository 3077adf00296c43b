"""Member profiles in the shape Topcoder's member API reads (issue 13), from DW facts. Pure.

A `MemberStats` item belongs to several writers: the platform owns only the `MARATHON_MATCH` block
inside the JSON-encoded `DATA_SCIENCE` attribute and the totals that block feeds (`DATA_SCIENCE`
challenges/wins/most recent event, the item's `challenges`, `wins` and `maxRating`). Every other
attribute of an existing item (DEVELOP, DESIGN, COPILOT, SRM inside DATA_SCIENCE, ...) is carried over
as it was read. `MemberHistoryStats` likewise gets `DATA_SCIENCE.MARATHON_MATCH.history`.
Dates are epoch milliseconds; percentile and avgRank are floats, the other rank fields integers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mm_platform.marathon.rules.dw_logic import RANK_OVERALL

TRACK, SUBTRACK = "DATA_SCIENCE", "MARATHON_MATCH"
AUTHOR = "mm_platform"  # createdBy / updatedBy of what the platform writes
JSON_TRACKS = ("DEVELOP", "DESIGN", "DATA_SCIENCE", "COPILOT")  # stored as JSON-encoded strings
TOTAL_TRACKS = ("DEVELOP", "DESIGN", "DATA_SCIENCE")  # the item's challenges and wins add these up
SHAPE = "v2"  # of the published items; a coder published in another shape is published again


class UnmergeableItem(ValueError):
    """An existing item whose track attribute is not the JSON object it must be: merging into it
    would lose another writer's data, so the member is left as is and reported."""


@dataclass(frozen=True)
class RoundResult:
    round_id: int
    event_name: str | None  # the contest's name ("Marathon Match 152"), else the round's
    start_date: dt.datetime | None
    placed: int | None
    attended: bool
    rated: bool
    new_rating: int | None
    num_submissions: int | None = None
    percentile: float | None = None  # the overall rank percentile the round's load gave the member


@dataclass(frozen=True)
class LanguageUse:
    language: str | None  # None: submissions without a known language
    submissions: int
    last_submit: int | None  # epoch ms


@dataclass(frozen=True)
class MarathonFacts:
    """What the DW knows of one member's marathon career."""

    coder_id: int
    handle: str
    rating: Mapping[str, Any] | None  # DW algo_rating (type 3) row
    ranks: Mapping[int, tuple[int, float]] = field(default_factory=dict)  # rank type -> (rank, pct)
    country_rank: int | None = None
    school_rank: int | None = None
    results: tuple[RoundResult, ...] = ()
    languages: tuple[LanguageUse, ...] = ()  # of the member's full submissions


def default_language(uses: Iterable[LanguageUse]) -> str | None:
    """The member's most used language; between equals, the one used last."""
    known = [u for u in uses if u.language]
    best = max(known, key=lambda u: (u.submissions, u.last_submit or 0, u.language), default=None)
    return best.language if best else None


def epoch_ms(value: dt.datetime | None) -> int | None:
    """DW times are naive UTC."""
    if value is None:
        return None
    return int(value.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _ordered(results: Iterable[RoundResult]) -> list[RoundResult]:
    return sorted(results, key=lambda r: (r.start_date or dt.datetime.min, r.round_id))


def marathon_block(facts: MarathonFacts) -> dict[str, Any]:
    """DATA_SCIENCE.MARATHON_MATCH of the stats item."""
    attended = [r for r in _ordered(facts.results) if r.attended]
    placed = [r.placed for r in attended if r.placed is not None and r.placed > 0]
    submissions = [r.num_submissions for r in attended if r.num_submissions is not None]
    latest = attended[-1] if attended else None
    rating, overall = facts.rating or {}, facts.ranks.get(RANK_OVERALL)
    return {
        "challenges": len(attended),
        "wins": sum(1 for p in placed if p == 1),
        "mostRecentEventName": latest.event_name if latest else None,
        "mostRecentEventDate": epoch_ms(latest.start_date) if latest else None,
        "mostRecentSubmission": max((u.last_submit for u in facts.languages if u.last_submit), default=None),
        "rank": {
            "rating": rating.get("rating"),
            "competitions": rating.get("num_ratings", 0),
            "avgRank": _mean(placed),
            "avgNumSubmissions": _mean(submissions),
            "bestRank": min(placed, default=None),
            "topFiveFinishes": sum(1 for p in placed if p <= 5),
            "topTenFinishes": sum(1 for p in placed if p <= 10),
            "rank": overall[0] if overall else None,
            "percentile": round(float(overall[1]), 2) if overall else None,
            "volatility": rating.get("vol"),
            "minimumRating": rating.get("lowest_rating"),
            "maximumRating": rating.get("highest_rating"),
            "countryRank": facts.country_rank,
            "schoolRank": facts.school_rank,
            "defaultLanguage": default_language(facts.languages),
        },
    }


def marathon_history(facts: MarathonFacts) -> list[dict[str, Any]]:
    """DATA_SCIENCE.MARATHON_MATCH.history of the history item: one entry per rated round."""
    return [
        {
            "challengeId": r.round_id,
            "challengeName": r.event_name,
            "date": epoch_ms(r.start_date),
            "rating": r.new_rating,
            "placement": r.placed,
            "percentile": None if r.percentile is None else round(float(r.percentile), 2),
        }
        for r in _ordered(facts.results)
        if r.attended and r.rated and r.new_rating is not None
    ]


def encode(value: Any) -> str:
    """JSON as the member API's writers store it (JSON.stringify: compact, UTF-8 as is)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def track(item: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """A track attribute of an item, decoded; None when absent."""
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise UnmergeableItem(f"{name} of member {item.get('userId')} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise UnmergeableItem(f"{name} of member {item.get('userId')} is not a JSON object")
    return value


def _object(value: Any) -> dict[str, Any]:
    """A decoded JSON value as an object; anything else as an empty one."""
    return value if isinstance(value, dict) else {}


def published_marathon(item: Mapping[str, Any]) -> dict[str, Any]:
    """DATA_SCIENCE.MARATHON_MATCH of a published item, as the member API decodes it ({} if none)."""
    return _object(json.loads(item.get(TRACK) or "{}").get(SUBTRACK))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) else 0.0


def _count(block: Mapping[str, Any] | None, key: str) -> int:
    return int(_number((block or {}).get(key)))


def _data_science(existing: Mapping[str, Any] | None, block: Mapping[str, Any]) -> dict[str, Any]:
    """The DATA_SCIENCE object with the marathon block in it and its totals over SRM and marathon."""
    science = dict(track(existing or {}, TRACK) or {})
    science[SUBTRACK] = dict(block)
    srm = _object(science.get("SRM"))
    science["challenges"] = _count(srm, "challenges") + block["challenges"]
    science["wins"] = _count(srm, "wins") + block["wins"]
    latest = max(
        (b for b in (srm, block) if b and b.get("mostRecentEventDate") is not None),
        key=lambda b: _number(b["mostRecentEventDate"]),
        default=None,
    )
    for key in ("mostRecentEventName", "mostRecentEventDate", "mostRecentSubmission"):
        science[key] = latest.get(key) if latest else None
    return science


def _max_rating(existing: Any, science: Mapping[str, Any], marathon_rating: Any) -> dict[str, Any] | None:
    """The highest current rating: the marathon one unless another track's is higher. The marathon
    and SRM ratings come from the current blocks; any other track's from the maxRating as read."""
    candidates: list[tuple[float, int, dict[str, Any]]] = []
    if marathon_rating is not None:
        candidates.append(
            (float(marathon_rating), 1, {"rating": marathon_rating, "track": TRACK, "subTrack": SUBTRACK})
        )
    recomputed = {SUBTRACK}
    srm_rating = _object(_object(science.get("SRM")).get("rank")).get("rating")
    if isinstance(srm_rating, (int, float)) and srm_rating > 0:
        candidates.append((float(srm_rating), 0, {"rating": srm_rating, "track": TRACK, "subTrack": "SRM"}))
        recomputed.add("SRM")
    if isinstance(existing, Mapping) and existing.get("subTrack") not in recomputed and "rating" in existing:
        candidates.append((_number(existing["rating"]), 0, dict(existing)))
    return max(candidates, key=lambda c: c[:2])[2] if candidates else None


def _owned(item: Mapping[str, Any], facts: MarathonFacts, now_ms: int) -> dict[str, Any]:
    """The identity and audit attributes the platform sets on both items (created* kept once set)."""
    return {
        "userId": facts.coder_id,
        "handle": facts.handle,
        "handleLower": facts.handle.lower(),
        "createdAt": item.get("createdAt", now_ms),
        "createdBy": item.get("createdBy", AUTHOR),
        "updatedAt": now_ms,
        "updatedBy": AUTHOR,
    }


def stats_item(existing: Mapping[str, Any] | None, facts: MarathonFacts, now_ms: int) -> dict[str, Any]:
    """The MemberStats item after a round: `existing` (as read, or None) with the marathon parts
    replaced. Raises UnmergeableItem when a track attribute of `existing` cannot be decoded."""
    item = dict(existing or {})
    science = _data_science(existing, marathon_block(facts))
    totals = {name: track(item, name) for name in TOTAL_TRACKS if name != TRACK}
    totals[TRACK] = science
    best = _max_rating(item.get("maxRating"), science, (facts.rating or {}).get("rating"))
    item.update(
        {
            **_owned(item, facts, now_ms),
            "challenges": sum(_count(b, "challenges") for b in totals.values()),
            "wins": sum(_count(b, "wins") for b in totals.values()),
            TRACK: encode(science),
        }
    )
    if best is None:
        item.pop("maxRating", None)
    else:
        item["maxRating"] = best
    return item


def history_item(existing: Mapping[str, Any] | None, facts: MarathonFacts, now_ms: int) -> dict[str, Any]:
    """The MemberHistoryStats item with DATA_SCIENCE.MARATHON_MATCH.history replaced."""
    item = dict(existing or {})
    science = dict(track(item, TRACK) or {})
    science[SUBTRACK] = {**_object(science.get(SUBTRACK)), "history": marathon_history(facts)}
    item.update({**_owned(item, facts, now_ms), TRACK: encode(science)})
    return item


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as JSON numbers, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def search_document(item: Mapping[str, Any]) -> dict[str, Any]:
    """The member search document of a stats item: the same structure, tracks as objects
    (`DATA_SCIENCE.MARATHON_MATCH.rank.rating`, not flattened names)."""
    document = plain(dict(item))
    for name in JSON_TRACKS:
        if isinstance(document.get(name), str):
            try:
                document[name] = json.loads(document[name])
            except ValueError:
                document.pop(name)  # another writer's undecodable text is no search field
    return document


def rank_fingerprint(ranks: Mapping[Any, tuple[int, float]]) -> str:
    """A coder's rank rows (kind -> rank, percentile) as the text the stats item was built with,
    prefixed by the item shape: a change of either publishes the coder again."""
    rows = "|".join(
        f"{kind}:{rank}:{round(pct, 4)}"
        for kind, (rank, pct) in sorted(ranks.items(), key=lambda kv: str(kv[0]))
    )
    return f"{SHAPE}|{rows}"


NO_RANKS = rank_fingerprint({})


def coders_to_republish(current: Mapping[int, str], published: Mapping[int, str]) -> set[int]:
    """Coders whose rank rows (or item shape) differ from those of their published stats: a round's
    load re-ranks everyone, not only its own members (a coder never published counts as changed)."""
    return {c for c in current.keys() | published.keys() if current.get(c, NO_RANKS) != published.get(c, "")}
