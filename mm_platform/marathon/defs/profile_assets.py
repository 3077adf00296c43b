"""Member profile assets, partitioned by round: DynamoDB member stats and the member search index.
They replace the nightly DW -> DynamoDB cron and the DynamoDB -> Elasticsearch Lambda."""

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetRecordsFilter,
    AssetsDefinition,
    ConfigurableResource,
    MaterializeResult,
    TableColumn,
    TableColumnConstraints,
    TableSchema,
)
from pydantic import Field
from sqlalchemy import func, select

from mm_platform.core.automation import upstream_updates_propagate
from mm_platform.core.aws import DynamoDBResource
from mm_platform.core.sql import SqlDatabase, db_now
from mm_platform.marathon.defs.assets import ROUNDS, round_id_of
from mm_platform.marathon.defs.dw_assets import DW_MM_RATINGS, dw_engine, dw_mm_ratings
from mm_platform.marathon.rules.dw_logic import RANK_OVERALL
from mm_platform.marathon.rules.member_stats import (
    NO_RANKS,
    LanguageUse,
    MarathonFacts,
    RoundResult,
    UnmergeableItem,
    coders_to_republish,
    epoch_ms,
    history_item,
    published_marathon,
    search_document,
    stats_item,
)
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import profile_state
from mm_platform.marathon.stores.schema import MARATHON_RATING_TYPE_ID
from mm_platform.marathon.stores.search_index import MemberSearchIndex
from mm_platform.marathon.stores.stats_store import ensure_table, merge_items, read_items

MEMBER_STATS = ROUNDS.key("member_stats")
T = TypeVar("T")

# what a MemberStats item holds (rules/member_stats.stats_item), shown as the asset's schema
MEMBER_STATS_ITEM = TableSchema(
    columns=[
        TableColumn(
            "userId", "number", description="hash key", constraints=TableColumnConstraints(nullable=False)
        ),
        TableColumn("handle", "string", constraints=TableColumnConstraints(nullable=False)),
        TableColumn("handleLower", "string"),
        TableColumn("maxRating", "map", description="{rating, track, subTrack}: the highest current rating"),
        TableColumn("challenges", "number", description="over DEVELOP, DESIGN and DATA_SCIENCE"),
        TableColumn("wins", "number"),
        TableColumn(
            "DATA_SCIENCE",
            "string (JSON)",
            description="{challenges, wins, mostRecentEventName, mostRecentEventDate, mostRecentSubmission, "
            "SRM (kept), MARATHON_MATCH: {challenges, wins, mostRecentEventName, mostRecentEventDate, "
            "mostRecentSubmission, rank: {rating, competitions, avgRank, avgNumSubmissions, bestRank, "
            "topFiveFinishes, topTenFinishes, rank, percentile, volatility, minimumRating, maximumRating, "
            "countryRank, schoolRank, defaultLanguage}}}; dates in epoch ms",
        ),
        TableColumn(
            "DEVELOP / DESIGN / COPILOT", "string (JSON)", description="other writers': kept as read"
        ),
        TableColumn("createdAt / updatedAt", "number", description="epoch ms"),
        TableColumn("createdBy / updatedBy", "string"),
    ]
)
# the rank fields a member sees and the DW columns they come from (checked after every write)
RANK_FIELDS_FROM_DW = (
    "rating",
    "volatility",
    "competitions",
    "rank",
    "percentile",
    "countryRank",
    "schoolRank",
    "minimumRating",
    "maximumRating",
)


class MemberProfileStore(ConfigurableResource):
    """Where member profiles are published: the member API's DynamoDB tables."""

    stats_table: str = Field(default="MemberStats", description="DynamoDB table of member stats")
    history_table: str = Field(default="MemberHistoryStats", description="DynamoDB table of rating history")
    create_tables: bool = Field(default=False, description="create the tables when missing (embedded stack)")


def _round_members(conn, round_id: int) -> list[int]:
    lcr = dw.long_comp_result
    return sorted(r[0] for r in conn.execute(select(lcr.c.coder_id).where(lcr.c.round_id == round_id)))


def _in_chunks(read: Callable[[Any, list[int]], dict[int, T]], conn, coder_ids: list[int]) -> dict[int, T]:
    """`read` over the coders 500 at a time (a bounded IN list on every database)."""
    found: dict[int, T] = {}
    for start in range(0, len(coder_ids), 500):
        found.update(read(conn, coder_ids[start : start + 500]))
    return found


def _by_coder(rows) -> dict[int, dict]:
    return {r.coder_id: dict(r._mapping) for r in rows}


def _overall_ranks(conn, table, coder_ids: list[int]) -> dict[int, int]:
    """Overall marathon rank of each coder in a rank table (coder, country or school)."""
    return dict(
        conn.execute(
            select(table.c.coder_id, table.c.rank).where(
                table.c.coder_id.in_(coder_ids),
                table.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
                table.c.coder_rank_type_id == RANK_OVERALL,
            )
        ).all()
    )


def _results(conn, coder_ids: list[int]) -> dict[int, list[RoundResult]]:
    lcr, rnd, rh = dw.long_comp_result, dw.round_, dw.coder_rank_history
    at_round = (
        (rh.c.coder_id == lcr.c.coder_id)
        & (rh.c.round_id == lcr.c.round_id)
        & (rh.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID)
        & (rh.c.coder_rank_type_id == RANK_OVERALL)
    )
    results: dict[int, list[RoundResult]] = defaultdict(list)
    for r in conn.execute(
        select(
            lcr.c.coder_id,
            lcr.c.round_id,
            func.coalesce(rnd.c.contest_name, rnd.c.name).label("event_name"),
            rnd.c.start_date,
            lcr.c.placed,
            lcr.c.attended,
            lcr.c.rated_ind,
            lcr.c.new_rating,
            lcr.c.num_submissions,
            rh.c.percentile,
        )
        .join(rnd, rnd.c.round_id == lcr.c.round_id)
        .outerjoin(rh, at_round)
        .where(lcr.c.coder_id.in_(coder_ids))
    ):
        results[r.coder_id].append(
            RoundResult(
                r.round_id,
                r.event_name,
                r.start_date,
                r.placed,
                r.attended == "Y",
                r.rated_ind == 1,
                r.new_rating,
                r.num_submissions,
                r.percentile,
            )
        )
    return results


def _languages(conn, coder_ids: list[int]) -> dict[int, list[LanguageUse]]:
    """Per coder, the languages of their full (non-example) submissions: count and latest use."""
    lps, lang = dw.long_problem_submission, dw.language
    uses: dict[int, list[LanguageUse]] = defaultdict(list)
    for r in conn.execute(
        select(lps.c.coder_id, lang.c.language_name, func.count(), func.max(lps.c.submit_time))
        .outerjoin(lang, lang.c.language_id == lps.c.language_id)
        .where(lps.c.coder_id.in_(coder_ids), lps.c.example == 0)
        .group_by(lps.c.coder_id, lang.c.language_name)
    ):
        uses[r[0]].append(LanguageUse(r[1], int(r[2]), None if r[3] is None else int(r[3])))
    return uses


def member_facts(conn, coder_ids: list[int]) -> dict[int, MarathonFacts]:
    """What the DW holds of these members' marathon careers (coders missing from the DW are left out)."""
    coders = _by_coder(
        conn.execute(select(dw.coder.c.coder_id, dw.coder.c.handle).where(dw.coder.c.coder_id.in_(coder_ids)))
    )
    ar = dw.algo_rating
    ratings = _by_coder(
        conn.execute(
            select(ar).where(
                ar.c.coder_id.in_(coder_ids), ar.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID
            )
        )
    )
    ranks: dict[int, dict[int, tuple[int, float]]] = defaultdict(dict)
    for r in conn.execute(
        select(dw.coder_rank).where(
            dw.coder_rank.c.coder_id.in_(coder_ids),
            dw.coder_rank.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
        )
    ):
        ranks[r.coder_id][r.coder_rank_type_id] = (r.rank, r.percentile)
    country = _overall_ranks(conn, dw.country_coder_rank, coder_ids)
    school = _overall_ranks(conn, dw.school_coder_rank, coder_ids)
    results, languages = _results(conn, coder_ids), _languages(conn, coder_ids)
    return {
        c: MarathonFacts(
            coder_id=c,
            handle=coders[c]["handle"],
            rating=ratings.get(c),
            ranks=ranks.get(c, {}),
            country_rank=country.get(c),
            school_rank=school.get(c),
            results=tuple(results.get(c, [])),
            languages=tuple(languages.get(c, [])),
        )
        for c in coder_ids
        if c in coders
    }


def _dw_rank_fields(conn, coder_ids: list[int]) -> dict[int, dict]:
    """The rank fields a member should see, read from the DW on their own (not through the rule)."""
    ar, cr = dw.algo_rating, dw.coder_rank
    expected: dict[int, dict] = {c: {"competitions": 0} for c in coder_ids}
    for r in conn.execute(
        select(
            ar.c.coder_id, ar.c.rating, ar.c.vol, ar.c.num_ratings, ar.c.lowest_rating, ar.c.highest_rating
        ).where(ar.c.coder_id.in_(coder_ids), ar.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID)
    ):
        expected[r.coder_id] = {
            "rating": r.rating,
            "volatility": r.vol,
            "competitions": r.num_ratings,
            "minimumRating": r.lowest_rating,
            "maximumRating": r.highest_rating,
        }
    for r in conn.execute(
        select(cr.c.coder_id, cr.c.rank, cr.c.percentile).where(
            cr.c.coder_id.in_(coder_ids),
            cr.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
            cr.c.coder_rank_type_id == RANK_OVERALL,
        )
    ):
        expected.setdefault(r.coder_id, {}).update({"rank": r.rank, "percentile": round(r.percentile, 2)})
    for name, table in (("countryRank", dw.country_coder_rank), ("schoolRank", dw.school_coder_rank)):
        for coder_id, rank in _overall_ranks(conn, table, coder_ids).items():
            expected.setdefault(coder_id, {})[name] = rank
    return expected


def rank_mismatches(items: dict[int, dict], expected: dict[int, dict], coder_ids: list[int]) -> list[str]:
    """Members whose published rank fields differ from the DW's (or who have no item)."""
    found = []
    for c in coder_ids:
        if c not in items:
            found.append(f"{c}: no item")
            continue
        rank = published_marathon(items[c]).get("rank") or {}
        want = expected.get(c, {})
        wrong = {f: (rank.get(f), want.get(f)) for f in RANK_FIELDS_FROM_DW if rank.get(f) != want.get(f)}
        if wrong:
            found.append(
                f"{c}: " + ", ".join(f"{f} {got} (DW {dw_value})" for f, (got, dw_value) in wrong.items())
            )
    return found


@ROUNDS.asset(
    "member_stats",
    deps=[dw_mm_ratings],
    kinds={"dynamodb"},
    metadata={"dagster/column_schema": MEMBER_STATS_ITEM},
    automation_condition=upstream_updates_propagate(),
    check_specs=[
        AssetCheckSpec(
            "stats_newer_than_dw_load",
            asset=MEMBER_STATS,
            blocking=True,
            description="The round's member stats were written after its DW ratings load; the search "
            "index waits for it, so it never indexes stale stats.",
        ),
        AssetCheckSpec(
            "rank_fields_match_dw",
            asset=MEMBER_STATS,
            blocking=True,
            description="Read back as the member API reads them (GetItem by userId, DATA_SCIENCE decoded), "
            "every member's MARATHON_MATCH rank fields equal the DW's algo_rating, coder_rank, "
            "country_coder_rank and school_coder_rank rows.",
        ),
    ],
    description=(
        "The member API's MemberStats and MemberHistoryStats items of every member of the round (and of "
        "members another round's load re-ranked): the DATA_SCIENCE.MARATHON_MATCH block with its rank "
        "fields and history, merged into the items other writers own (their tracks are kept as read)."
    ),
)
def member_stats(
    context: AssetExecutionContext,
    dw_db: SqlDatabase,
    dynamodb: DynamoDBResource,
    member_profiles: MemberProfileStore,
) -> MaterializeResult:
    round_id = round_id_of(context)
    started = time.perf_counter()
    client = dynamodb.get_client()
    if member_profiles.create_tables:
        for table in (member_profiles.stats_table, member_profiles.history_table):
            ensure_table(client, table)
    with dw_engine(dw_db).begin() as conn:
        profile_state.hold_lock(conn, "member_stats")
        now = db_now()
        members = _round_members(conn, round_id)
        ranks = profile_state.current_ranks(conn)
        reranked = coders_to_republish(ranks, profile_state.published_ranks(conn)) - set(members)
        coders = members + sorted(reranked)
        facts = _in_chunks(member_facts, conn, coders)
        now_ms = epoch_ms(now)
        stats = merge_items(
            client,
            member_profiles.stats_table,
            {c: partial(stats_item, facts=f, now_ms=now_ms) for c, f in facts.items()},
            refusals=(UnmergeableItem,),
        )
        history = merge_items(
            client,
            member_profiles.history_table,
            {c: partial(history_item, facts=f, now_ms=now_ms) for c, f in facts.items()},
            refusals=(UnmergeableItem,),
        )
        for user_id, why in {**history.refused, **stats.refused}.items():
            context.log.warning(f"member {user_id} left as is: {why}")
        # kept only for what was written: a failed write leaves the members to be published again
        published = [c for c in facts if c not in stats.refused and c not in history.refused]
        profile_state.record_published(conn, {c: ranks.get(c, NO_RANKS) for c in published})
        checked = [c for c in members if c in facts and c not in stats.refused]
        mismatched = rank_mismatches(
            read_items(client, member_profiles.stats_table, checked),
            _in_chunks(_dw_rank_fields, conn, checked),
            checked,
        )
    loads = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=DW_MM_RATINGS, asset_partitions=[context.partition_key]), limit=1
    ).records
    dw_loaded_at = (
        dt.datetime.fromtimestamp(loads[0].timestamp, dt.timezone.utc).replace(tzinfo=None) if loads else None
    )
    fresh = dw_loaded_at is not None and now >= dw_loaded_at.replace(microsecond=0)
    return MaterializeResult(
        metadata={
            "round_id": round_id,
            "members": len(members),
            "reranked_members": len(reranked),
            "items_written": stats.written,
            "history_items_written": history.written,
            "items_left_as_is": len(set(stats.refused) | set(history.refused)),
            "writes_repeated_after_a_concurrent_change": stats.retried + history.retried,
            "table": member_profiles.stats_table,
            "history_table": member_profiles.history_table,
            "dagster/row_count": stats.written,
            "dagster/table_name": member_profiles.stats_table,
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[
            AssetCheckResult(
                check_name="stats_newer_than_dw_load",
                passed=fresh,
                metadata={
                    "stats_written_at": now.isoformat(),
                    "dw_loaded_at": dw_loaded_at.isoformat() if dw_loaded_at else "never",
                },
            ),
            AssetCheckResult(
                check_name="rank_fields_match_dw",
                passed=not mismatched,
                metadata={
                    "members_checked": len(checked),
                    "mismatches": len(mismatched),
                    "first_mismatches": "\n".join(mismatched[:10]) or "none",
                },
            ),
        ],
    )


def build_member_search_index(opensearch: bool) -> AssetsDefinition:
    """The search index asset; its kind says where the documents go (OpenSearch or the DW table)."""

    @ROUNDS.asset(
        "member_search_index",
        deps=[member_stats],
        kinds={"opensearch"} if opensearch else {"sql"},
        automation_condition=upstream_updates_propagate(),
        description=(
            "The member search documents of the round's members, built from their DynamoDB stats items "
            "(what the member API's search serves), indexed in OpenSearch/Elasticsearch when configured; "
            "the embedded default keeps them in the DW table member_search_document."
        ),
    )
    def member_search_index(
        context: AssetExecutionContext,
        dw_db: SqlDatabase,
        dynamodb: DynamoDBResource,
        member_profiles: MemberProfileStore,
        search_index: MemberSearchIndex,
    ) -> MaterializeResult:
        round_id = round_id_of(context)
        started = time.perf_counter()
        engine = dw_engine(dw_db)
        with engine.connect() as conn:
            members = _round_members(conn, round_id)
            pending = profile_state.pending_index(conn)  # of this round or re-ranked by another
        coders = sorted(set(members) | set(pending))
        items = read_items(dynamodb.get_client(), member_profiles.stats_table, coders)
        # an item another writer left without a handle (one member_stats left as is) has nothing to find
        documents = [search_document(item) for _, item in sorted(items.items()) if item.get("handle")]
        indexed = search_index.publish(documents, engine)
        with engine.begin() as conn:
            profile_state.record_indexed(conn, pending)
        missing = len(coders) - len(items)
        if missing:
            context.log.warning(f"{missing} member(s) of round {round_id} have no stats item to index")
        return MaterializeResult(
            metadata={
                "round_id": round_id,
                "documents_indexed": indexed,
                "pending_from_other_rounds": len(set(pending) - set(members)),
                "target": search_index.target,
                "members_without_stats": missing,
                "items_without_handle": len(items) - len(documents),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    return member_search_index
