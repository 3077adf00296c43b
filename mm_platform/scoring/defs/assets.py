"""Submission scoring assets, partitioned by challenge: submission events (the topic) -> submission
scores (a scorer run per submission and phase, posted to the Submission API) -> the leaderboard."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Backoff,
    DynamicPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
)

from mm_platform.core.automation import upstream_updates_propagate
from mm_platform.core.catalog import Catalog
from mm_platform.core.inbox import InboxResource
from mm_platform.core.sensors import inbox_ids_of
from mm_platform.core.sql import SqlDatabase
from mm_platform.scoring.defs.challenge_run import ChallengeRun, RunTally
from mm_platform.scoring.rules.checks import repeated_leaderboard_rows, submissions_without_outcome
from mm_platform.scoring.rules.config import ChallengeConfig, ChallengeConfigError
from mm_platform.scoring.rules.events import SubmissionEvent, SubmissionEventError, parse_submission_event
from mm_platform.scoring.rules.leaderboard import LeaderboardRow, build_leaderboard
from mm_platform.scoring.stores.config_store import ChallengeConfigStore
from mm_platform.scoring.stores.resources import ScoringResource
from mm_platform.scoring.stores.scores_store import ScoringStore
from mm_platform.scoring.stores.submission_api import SubmissionApi

# one partition per challenge id, added by the sensor that sees the challenge's first submission
challenges_partitions = DynamicPartitionsDefinition(name="scoring_challenge")
CHALLENGES = Catalog("scoring", owners=["team:marathon-scoring"], partitions_def=challenges_partitions)
GROUP = CHALLENGES.domain

# spec §5: 3 attempts per submission and phase; the store counts attempts, so a phase that failed in a
# step is scored again by the step's retry (and one that succeeded is not)
SCORER_RETRY = RetryPolicy(max_retries=2, delay=1.0, backoff=Backoff.EXPONENTIAL)

submission_events = CHALLENGES.spec(
    "submission_events",
    kinds={"kafka"},
    description=(
        "Submission events (seed shape or the Topcoder bus envelope). Each one is kept in the event "
        "inbox; a valid one starts a run of its challenge's scoring."
    ),
)


def challenge_config(store: ChallengeConfigStore, challenge_id: str) -> ChallengeConfig:
    try:
        config = store.config(challenge_id)
    except ChallengeConfigError as error:
        raise Failure(description=str(error)) from None
    if config is None:
        raise Failure(description=f"challenge {challenge_id} has no scoring configuration")
    return config


def run_submissions(
    context: AssetExecutionContext, inbox: InboxResource
) -> list[tuple[SubmissionEvent, int]]:
    """The submissions whose inbox events the run was launched for (none for a manual run)."""
    events = []
    for stored in inbox.get_inbox().get(inbox_ids_of(context.run.tags)):
        try:
            event = parse_submission_event(stored.payload)
        except SubmissionEventError:
            continue  # the router stored it INVALID; a replay would have re-routed it
        if isinstance(event, SubmissionEvent) and event.challenge_id == context.partition_key:
            events.append((event, stored.id))
    return events


@CHALLENGES.asset(
    "submission_scores",
    deps=[submission_events],
    kinds={"sql", "docker"},
    retry_policy=SCORER_RETRY,
    check_specs=[
        AssetCheckSpec(
            "every_submission_has_an_outcome",
            asset=CHALLENGES.key("submission_scores"),
            description="Every valid submission has a score or a FAILED reason in every phase.",
        )
    ],
    description=(
        "One row per submission and phase: status, score, per-test scores, attempts and the scorer run "
        "(Dagster Pipes: local process, ECS task or Kubernetes pod). Reviews and review summations are "
        "posted to the Submission API; a phase that fails 3 times is FAILED there and in the inbox."
    ),
)
def submission_scores(
    context: AssetExecutionContext,
    inbox: InboxResource,
    platform_db: SqlDatabase,
    challenge_configs: ChallengeConfigStore,
    submission_api: SubmissionApi,
    scoring: ScoringResource,
):
    challenge_id = context.partition_key
    config = challenge_config(challenge_configs, challenge_id)
    store = ScoringStore(platform_db.get_engine())
    submissions = run_submissions(context, inbox)
    phases = [phase.name for phase in config.phases]
    added = store.add_submissions(submissions, phases)
    store.add_missing_phases(challenge_id, phases)  # a phase added to the config since
    # a replayed dead letter is scored again: its FAILED phases go back to PENDING
    store.rescore_failed([event.submission_id for event, _ in submissions], context.run.run_id)
    work = store.open_work(challenge_id, phases)
    run = ChallengeRun(
        config=config,
        store=store,
        inbox=inbox.get_inbox(),
        api=submission_api.for_base_url(config.submission_api_url),
        token=challenge_configs.token(),
        launcher=scoring.launcher(),
        context=context,
        run_id=context.run.run_id,
        reviewer_id=scoring.reviewer_id,
        max_attempts=scoring.max_attempts,
        max_scorers=scoring.max_scorers_per_run,
        log=context.log.info,
    )
    tally = run.work_through(work)
    run.settle_carried_over(work)
    if tally.still_pending or tally.api_errors:
        # RetryPolicy runs the step again after a back-off; the store says what is left
        problems = [f"{tally.still_pending} phase(s) to score again", *tally.api_errors[:5]]
        raise Failure(description="; ".join(problems), metadata=_tally_metadata(tally, added))
    missing = submissions_without_outcome(
        store.expected_phases(challenge_id, phases), store.outcomes(challenge_id, phases)
    )
    return MaterializeResult(
        metadata={**_tally_metadata(tally, added), "statuses": store.status_counts(challenge_id)},
        check_results=[
            AssetCheckResult(
                passed=not missing,
                severity=AssetCheckSeverity.ERROR,
                metadata={"without_outcome": len(missing), "first": str(missing[:10])},
            )
        ],
    )


def _tally_metadata(tally: RunTally, added: int) -> dict:
    return {
        "new_submissions": added,
        "scored": tally.scored,
        "failed_attempts": tally.failed_attempts,
        "dead_letters": MetadataValue.json(
            [{"submission": s, "phase": p, "reason": r} for s, p, r in tally.dead_letters]
        ),
        "median_scorer_seconds": round(tally.median_scorer_seconds, 3),
    }


@CHALLENGES.asset(
    "challenge_leaderboard",
    deps=[CHALLENGES.key("submission_scores")],
    kinds={"sql"},
    # an operator's re-scoring (a manual materialization) refreshes the leaderboard by itself
    automation_condition=upstream_updates_propagate(),
    check_specs=[
        AssetCheckSpec(
            "one_row_per_member_and_phase",
            asset=CHALLENGES.key("challenge_leaderboard"),
            description="The leaderboard has exactly one row per member and phase.",
        )
    ],
    description=(
        "Per phase, each member's latest submission with its raw score, relative score (per test case "
        "score/best or best/score, 100 x the mean) and rank."
    ),
)
def challenge_leaderboard(
    context: AssetExecutionContext,
    platform_db: SqlDatabase,
    challenge_configs: ChallengeConfigStore,
):
    challenge_id = context.partition_key
    config = challenge_config(challenge_configs, challenge_id)
    store = ScoringStore(platform_db.get_engine())
    outcomes = store.outcomes(challenge_id, [phase.name for phase in config.phases])
    # the phase's test cases are those its scorers reported (seeds or indices: every scored
    # submission reports the phase's numberOfTests of them, validate_result sees to that)
    rows = build_leaderboard(outcomes, config.score_direction, config.relative_scoring_enabled)
    store.replace_leaderboard(challenge_id, rows)
    written = store.leaderboard(challenge_id)
    repeated = repeated_leaderboard_rows(written)
    expected = {(o.phase, o.member_id) for o in outcomes}
    shown = {(row.phase, row.member_id) for row in written}
    return MaterializeResult(
        metadata={
            "rows": len(rows),
            "direction": config.score_direction.value,
            "leaderboard": MetadataValue.md(leaderboard_markdown(rows)),
        },
        check_results=[
            AssetCheckResult(
                passed=not repeated and shown == expected,
                severity=AssetCheckSeverity.ERROR,
                metadata={
                    "repeated": str(repeated[:10]),
                    "members_missing": str(sorted(expected - shown)[:10]),
                    "members_extra": str(sorted(shown - expected)[:10]),
                },
            )
        ],
    )


def leaderboard_markdown(rows: list[LeaderboardRow], per_phase: int = 20) -> str:
    lines = ["| phase | rank | member | submission | raw | relative |", "|---|---|---|---|---|---|"]
    shown: dict[str, int] = {}
    for row in rows:
        shown[row.phase] = shown.get(row.phase, 0) + 1
        if shown[row.phase] <= per_phase:
            lines.append(
                f"| {row.phase} | {row.rank} | {row.member_id} | {row.submission_id} | "
                f"{_num(row.raw_score)} | {_num(row.relative_score)} |"
            )
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
