"""Member profile assets, partitioned by round: DynamoDB member stats and the member search index.
They replace the nightly DW -> DynamoDB cron and the DynamoDB -> Elasticsearch Lambda."""

import datetime as dt
import time
from collections import defaultdict

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
from sqlalchemy import select

from mm_platform.core.automation import upstream_updates_propagate
from mm_platform.core.aws import DynamoDBResource
from mm_platform.core.sql import SqlDatabase, db_now
from mm_platform.marathon.defs.assets import ROUNDS, round_id_of
from mm_platform.marathon.defs.dw_assets import DW_MM_RATINGS, dw_engine, dw_mm_ratings
from mm_platform.marathon.rules.member_stats import (
    RoundResult,
    build_member_stats,
    coders_to_republish,
    search_document,
)
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import profile_state
from mm_platform.marathon.stores.schema import MARATHON_RATING_TYPE_ID
from mm_platform.marathon.stores.search_index import MemberSearchIndex
from mm_platform.marathon.stores.stats_store import ensure_table, read_items, write_items

MEMBER_STATS = ROUNDS.key("member_stats")

# what a member stats item holds (rules/member_stats.build_member_stats), shown as the asset's schema
MEMBER_STATS_ITEM = TableSchema(
    columns=[
        TableColumn(
            "coderId", "number", description="hash key", constraints=TableColumnConstraints(nullable=False)
        ),
        TableColumn("handle", "string", constraints=TableColumnConstraints(nullable=False)),
        TableColumn("status", "string"),
        TableColumn("countryCode", "string"),
        TableColumn(
            "marathon",
            "map",
            description="rating, volatility, ratedCompetitions, rank, percentile, activeRank, "
            "activePercentile, competitions, wins, topFiveFinishes, topTenFinishes, maxRating, minRating, "
            "mostRecentEventDate, mostRecentRoundId; absent values are left out",
        ),
        TableColumn(
            "marathon.ratingHistory",
            "list<map>",
            description="rated rounds in date order: roundId, roundName, date, rating, volatility, placed",
        ),
        TableColumn("sourceRoundId", "number", description="the round whose run wrote the item"),
        TableColumn("updatedAt", "string", description="ISO time of the write (UTC)"),
    ]
)


class MemberProfileStore(ConfigurableResource):
    """Where member profiles are published."""

    stats_table: str = Field(default="mm_platform_member_stats", description="DynamoDB table of member stats")
    create_stats_table: bool = Field(
        default=False, description="create the table when missing (embedded stack)"
    )


def _round_members(conn, round_id: int) -> list[int]:
    lcr = dw.long_comp_result
    return sorted(r[0] for r in conn.execute(select(lcr.c.coder_id).where(lcr.c.round_id == round_id)))


def _items_for(conn, coder_ids: list[int], round_id: int, now: dt.datetime) -> list[dict]:
    coders = {
        r.coder_id: dict(r._mapping)
        for r in conn.execute(select(dw.coder).where(dw.coder.c.coder_id.in_(coder_ids)))
    }
    ratings = {
        r.coder_id: dict(r._mapping)
        for r in conn.execute(
            select(dw.algo_rating).where(
                dw.algo_rating.c.coder_id.in_(coder_ids),
                dw.algo_rating.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
            )
        )
    }
    ranks: dict[int, dict[int, tuple[int, float]]] = defaultdict(dict)
    for r in conn.execute(
        select(dw.coder_rank).where(
            dw.coder_rank.c.coder_id.in_(coder_ids),
            dw.coder_rank.c.algo_rating_type_id == MARATHON_RATING_TYPE_ID,
        )
    ):
        ranks[r.coder_id][r.coder_rank_type_id] = (r.rank, r.percentile)
    results: dict[int, list[RoundResult]] = defaultdict(list)
    lcr, rnd = dw.long_comp_result, dw.round_
    for r in conn.execute(
        select(
            lcr.c.coder_id,
            lcr.c.round_id,
            rnd.c.name,
            rnd.c.start_date,
            lcr.c.placed,
            lcr.c.attended,
            lcr.c.rated_ind,
            lcr.c.new_rating,
            lcr.c.new_vol,
        )
        .join(rnd, rnd.c.round_id == lcr.c.round_id)
        .where(lcr.c.coder_id.in_(coder_ids))
    ):
        results[r.coder_id].append(
            RoundResult(
                r.round_id,
                r.name,
                r.start_date,
                r.placed,
                r.attended == "Y",
                r.rated_ind == 1,
                r.new_rating,
                r.new_vol,
            )
        )
    return [
        build_member_stats(coders[c], ratings.get(c), ranks.get(c, {}), results.get(c, []), round_id, now)
        for c in coder_ids
        if c in coders
    ]


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
        )
    ],
    description=(
        "One DynamoDB item per member of the round (decision 9.7): rating, volatility, rank and "
        "percentile, competitions, wins, top-5/top-10 finishes, max/min rating, most recent event and "
        "rating history, written with batched BatchWriteItem calls."
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
    if member_profiles.create_stats_table:
        ensure_table(dynamodb.get_client(), member_profiles.stats_table)
    with dw_engine(dw_db).begin() as conn:
        profile_state.hold_lock(conn, "member_stats")
        now = db_now()
        members = _round_members(conn, round_id)
        ranks = profile_state.current_ranks(conn)
        reranked = coders_to_republish(ranks, profile_state.published_ranks(conn)) - set(members)
        coders = members + sorted(reranked)
        items = []
        for start in range(0, len(coders), 500):
            items += _items_for(conn, coders[start : start + 500], round_id, now)
        written = write_items(dynamodb.get_table(member_profiles.stats_table), items)
        # kept only when the items were written: a failed write leaves them to be published again
        profile_state.record_published(conn, {i["coderId"]: ranks.get(i["coderId"], "") for i in items})
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
            "items_written": written,
            "table": member_profiles.stats_table,
            "dagster/row_count": written,
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
            )
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
        items = read_items(dynamodb.get_resource(), member_profiles.stats_table, coders)
        documents = [search_document(item) for item in items]
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
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    return member_search_index
