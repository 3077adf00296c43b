"""Member profile stats (decision 9.7) and their search documents, from DW rows. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mm_platform.marathon.rules.dw_logic import RANK_ACTIVE, RANK_OVERALL


@dataclass(frozen=True)
class RoundResult:
    round_id: int
    round_name: str | None
    start_date: dt.datetime | None
    placed: int | None
    attended: bool
    rated: bool
    new_rating: int | None
    new_vol: int | None


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat()


def build_member_stats(
    coder: Mapping[str, Any],
    rating: Mapping[str, Any] | None,
    ranks: Mapping[int, tuple[int, float]],
    results: Iterable[RoundResult],
    source_round_id: int,
    updated_at: dt.datetime,
) -> dict[str, Any]:
    """One DynamoDB item: the marathon block of a member profile plus its rating history."""
    results = sorted(results, key=lambda r: (r.start_date or dt.datetime.min, r.round_id))
    attended = [r for r in results if r.attended]
    rated = [r for r in attended if r.rated and r.new_rating is not None]
    overall, active = ranks.get(RANK_OVERALL), ranks.get(RANK_ACTIVE)
    marathon: dict[str, Any] = {
        "rating": rating["rating"] if rating else None,
        "volatility": rating["vol"] if rating else None,
        "ratedCompetitions": rating["num_ratings"] if rating else 0,
        "rank": overall[0] if overall else None,
        "percentile": Decimal(str(round(overall[1], 4))) if overall else None,
        "activeRank": active[0] if active else None,
        "activePercentile": Decimal(str(round(active[1], 4))) if active else None,
        "competitions": len(attended),
        "wins": sum(1 for r in attended if r.placed == 1),
        "topFiveFinishes": sum(1 for r in attended if r.placed is not None and 1 <= r.placed <= 5),
        "topTenFinishes": sum(1 for r in attended if r.placed is not None and 1 <= r.placed <= 10),
        "maxRating": max((r.new_rating for r in rated if r.new_rating > 0), default=None),
        "minRating": min((r.new_rating for r in rated if r.new_rating > 0), default=None),
        "mostRecentEventDate": _iso(attended[-1].start_date) if attended else None,
        "mostRecentRoundId": attended[-1].round_id if attended else None,
        "ratingHistory": [
            {
                "roundId": r.round_id,
                "roundName": r.round_name,
                "date": _iso(r.start_date),
                "rating": r.new_rating,
                "volatility": r.new_vol,
                "placed": r.placed,
            }
            for r in rated
        ],
    }
    return {
        "coderId": int(coder["coder_id"]),
        "handle": coder["handle"],
        "status": coder["status"],
        "countryCode": coder.get("country_code"),
        "marathon": {k: v for k, v in marathon.items() if v is not None},
        "sourceRoundId": source_round_id,
        "updatedAt": _iso(updated_at),
    }


def search_document(item: Mapping[str, Any]) -> dict[str, Any]:
    """The member search document of a stats item (what the DynamoDB -> ES Lambda indexed)."""
    marathon = item.get("marathon", {})

    def plain(value: Any) -> Any:
        return float(value) if isinstance(value, Decimal) else value

    return {
        "coderId": int(item["coderId"]),
        "handle": item["handle"],
        "handleLower": str(item["handle"]).lower(),
        "countryCode": item.get("countryCode"),
        "status": item.get("status"),
        "mmRating": plain(marathon.get("rating")),
        "mmRank": plain(marathon.get("rank")),
        "mmPercentile": plain(marathon.get("percentile")),
        "mmCompetitions": plain(marathon.get("competitions", 0)),
        "mmWins": plain(marathon.get("wins", 0)),
        "mmMaxRating": plain(marathon.get("maxRating")),
        "mmMostRecentEventDate": marathon.get("mostRecentEventDate"),
        "statsUpdatedAt": item.get("updatedAt"),
    }


def rank_fingerprint(ranks: Mapping[int, tuple[int, float]]) -> str:
    """A coder's rank rows (type -> rank, percentile) as the text the stats item was built with."""
    return "|".join(f"{kind}:{rank}:{round(pct, 4)}" for kind, (rank, pct) in sorted(ranks.items()))


def coders_to_republish(current: Mapping[int, str], published: Mapping[int, str]) -> set[int]:
    """Coders whose rank rows differ from those of their published stats: a round's load re-ranks
    everyone, not only its own members (a coder never published counts as changed)."""
    return {c for c in current.keys() | published.keys() if current.get(c, "") != published.get(c, "")}
