"""Marathon member-profile assets, partitioned by round: attendance and ratings (OLTP)."""

import hashlib
import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from mm_platform.core.automation import upstream_updates_propagate
from mm_platform.core.catalog import Catalog
from mm_platform.core.sql import SqlDatabase, ensure_table
from mm_platform.marathon.defs.partitions import rounds_partitions
from mm_platform.marathon.rules.attendance import decide_attendance
from mm_platform.marathon.stores import oltp
from mm_platform.marathon.stores.round_ratings import (
    rate_round_in_oltp,
    rating_input,
    unrated_attended_coders,
)

# every marathon asset: key marathon/<name>, group marathon, its owners and tag, partitioned by round
ROUNDS = Catalog("marathon", owners=["team:member-profiles"], partitions_def=rounds_partitions)
GROUP = ROUNDS.domain

review_end_events = ROUNDS.spec(
    "review_end_events",
    kinds={"kafka"},
    description=(
        "Review phase END events on the autopilot topic (notifications.autopilot.events). Each one is "
        "kept in the event inbox and starts a run of its round's chain."
    ),
)


def round_id_of(context: AssetExecutionContext) -> int:
    key = context.partition_key
    if not key.isdigit():
        raise Failure(description=f"partition key {key!r} is not a round id")
    return int(key)


def _sample(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" … (+{len(ids) - limit})" if len(ids) > limit else "")


@ROUNDS.asset(
    "long_comp_result_attendance",
    deps=[review_end_events],
    kinds={"sql"},
    description=(
        "long_comp_result.attended='Y' for every member of the round whose latest submission has a "
        "final score (spec 9.4). Committed before anything downstream reads it."
    ),
)
def long_comp_result_attendance(context: AssetExecutionContext, oltp_db: SqlDatabase) -> MaterializeResult:
    round_id = round_id_of(context)
    with oltp_db.get_engine().begin() as conn:
        if not oltp.round_exists(conn, round_id):
            raise Failure(description=f"round {round_id} is not in the OLTP database")
        projects = oltp.projects_of_round(conn, round_id)
        flags = oltp.attended_flags(conn, round_id)
        decision = decide_attendance(flags, oltp.submissions_of_projects(conn, projects))
        marked = oltp.mark_attended(conn, round_id, decision.to_mark)
    attended_total = marked + sum(1 for flag in flags.values() if flag.strip().upper() == "Y")
    if decision.without_result_row:
        context.log.warning(
            f"{len(decision.without_result_row)} final submitter(s) of round {round_id} have no "
            f"long_comp_result row and stay unattended: {_sample(decision.without_result_row)}"
        )
    return MaterializeResult(
        metadata={
            "round_id": round_id,
            "legacy_project_ids": MetadataValue.text(", ".join(map(str, projects)) or "none"),
            "result_rows": len(flags),
            "final_submitters": len(decision.final_submitters),
            "marked_attended": marked,
            "already_attended": len(decision.already_attended),
            "attended_total": attended_total,
            "final_submitters_without_result_row": len(decision.without_result_row),
            "latest_submission_without_final_score": len(decision.latest_without_final_score),
        }
    )


@ROUNDS.asset(
    "round_ratings",
    deps=[long_comp_result_attendance],
    kinds={"sql"},
    automation_condition=upstream_updates_propagate(),
    check_specs=[
        AssetCheckSpec(
            "every_attended_coder_rated",
            asset=AssetKey(["marathon", "round_ratings"]),
            description="Every attended coder of the round has a rating, except a coder a single-coder pass "
            "leaves unrated (decision 9.2).",
        )
    ],
    description=(
        "The round's new ratings (spec 3, decisions 9.1-9.3): the whole round is rated from each coder's "
        "pre-round rating and long_comp_result, algo_rating and round.rated_ind are written in one "
        "transaction. Re-materializing gives identical rows."
    ),
)
def round_ratings(context: AssetExecutionContext, oltp_db: SqlDatabase) -> MaterializeResult:
    round_id = round_id_of(context)
    started = time.perf_counter()
    with oltp_db.get_engine().begin() as conn:
        ensure_table(conn, rating_input)
        if not oltp.round_exists(conn, round_id):
            raise Failure(description=f"round {round_id} is not in the OLTP database")
        outcome = rate_round_in_oltp(conn, round_id)
        unexplained = unrated_attended_coders(conn, round_id)
    results = outcome.results
    rated = results[results["rated_pass"].notna()]
    if outcome.unrated_single_coder_pass:
        unrated = _sample(outcome.unrated_single_coder_pass)
        context.log.warning(f"left unrated by a single-coder pass (decision 9.2): {unrated}")
    fingerprint = hashlib.sha256(
        rated.sort_values("coder_id")[["coder_id", "new_rating", "new_vol", "num_ratings"]]
        .to_csv(index=False)
        .encode()
    ).hexdigest()[:16]
    return MaterializeResult(
        metadata={
            "round_id": round_id,
            "attended": outcome.attended,
            "rated_provisional": outcome.rated_provisional,
            "rated_non_provisional": outcome.rated_non_provisional,
            "unrated_single_coder_pass": len(outcome.unrated_single_coder_pass),
            "algo_rating_rows_written": outcome.ratings_written,
            "algo_rating_kept_for_later_round": len(outcome.kept_for_later_round),
            "rated_total": len(rated),
            "seconds": round(time.perf_counter() - started, 3),
            "result_fingerprint": fingerprint,
        },
        data_version=DataVersion(fingerprint),
        check_results=[
            AssetCheckResult(
                check_name="every_attended_coder_rated",
                passed=not unexplained,
                severity=AssetCheckSeverity.WARN,  # advisory: the ratings are written either way
                metadata={
                    "attended_without_rating": len(unexplained),
                    "coders": _sample(unexplained) or "none",
                },
            )
        ],
    )
