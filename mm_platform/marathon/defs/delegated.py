"""Delegated ratings (configuration `MM_PLATFORM_RATINGS_MODE=delegated`): an external ratings
service computes the round's ratings.

The round's run asks the service to calculate (`ratings_calculation_request`). `round_ratings` is
then an external asset: the sensor on `notification.rating.calculation` reports its materialization
when the service says RATINGS_CALCULATION SUCCESS (or ALREADY_CALCULATED), and the DW loads follow
through declarative automation — lineage, not hand-chained events, drives them.
"""

from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    MaterializeResult,
    SensorDefinition,
)

from mm_platform.core.inbox import InboxEvent, Status, Verdict
from mm_platform.core.jobs import ChainJob
from mm_platform.core.sensors import PayloadError, Router, RouterContext, make_kafka_sensor
from mm_platform.core.services import RatingsService
from mm_platform.core.settings import Settings
from mm_platform.marathon.defs.assets import ROUNDS, long_comp_result_attendance, round_id_of
from mm_platform.marathon.defs.partitions import rounds_partitions
from mm_platform.marathon.settings import MarathonSettings

RATINGS_SERVICE = "rating.calculation.service"
ROUND_RATINGS = ROUNDS.key("round_ratings")
REPORTED = ("SUCCESS", "ALREADY_CALCULATED")


@ROUNDS.asset(
    "ratings_calculation_request",
    deps=[long_comp_result_attendance],
    kinds={"http"},
    description="Asks the external ratings service to rate the round: POST /ratings/mm/calculate {roundId}.",
)
def ratings_calculation_request(
    context: AssetExecutionContext, ratings_service: RatingsService
) -> MaterializeResult:
    round_id = round_id_of(context)
    answer = ratings_service.calculate(round_id)  # raises ServiceError: the step fails and is retried
    return MaterializeResult(metadata={"round_id": round_id, "service_answer": str(answer)[:500]})


round_ratings_external = ROUNDS.spec(
    "round_ratings",
    deps=[ratings_calculation_request],
    partitions_def=rounds_partitions,
    kinds={"http"},
    description=(
        "The round's ratings, computed by the external ratings service. Materializations are reported "
        "by the sensor on notification.rating.calculation."
    ),
)


def _round_id(payload: dict[str, Any]) -> int:
    value = payload.get("roundId")
    if isinstance(value, bool) or value is None:
        raise PayloadError("missing field payload.roundId")
    try:
        round_id = int(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(inf)
        raise PayloadError(f"payload.roundId must be an integer, got {value!r}") from exc
    # a round id is a positive BIGINT in the warehouse; anything else names no round
    if not 0 < round_id < 2**63:
        raise PayloadError(f"payload.roundId must be a positive 64-bit integer, got {value!r}")
    return round_id


def rating_event_router(_context: RouterContext) -> Router:
    def route(envelope: dict[str, Any]) -> Verdict:
        originator = envelope.get("originator")
        payload = envelope.get("payload")
        if not isinstance(payload, dict):
            raise PayloadError("missing field payload" if payload is None else "payload must be an object")
        event, status = str(payload.get("event", "")), str(payload.get("status", ""))
        if not event or not status:
            raise PayloadError("missing field payload.event or payload.status")
        round_id = _round_id(payload)
        event_type, entity = f"{event.lower()}.{status.lower()}", f"round-{round_id}"
        if originator != RATINGS_SERVICE:
            return Verdict.ignored(
                f"originator {originator!r} is not {RATINGS_SERVICE}",
                event_type=event_type,
                entity_key=entity,
            )
        if event != "RATINGS_CALCULATION":
            return Verdict.ignored(
                f"{event} is not used: the platform loads the DW itself (dw_coders, dw_mm_ratings)",
                event_type=event_type,
                entity_key=entity,
            )
        if status == "FAIL":
            return Verdict(
                Status.FAILED,
                f"the ratings service failed to rate round {round_id}",
                event_type,
                entity,
                partition_key=str(round_id),
            )
        if status not in REPORTED:
            return Verdict.invalid(f"unknown status {status!r}", event_type=event_type, entity_key=entity)
        timestamp = envelope.get("timestamp")
        return Verdict.run(
            str(round_id),
            event_type=event_type,
            entity_key=entity,
            dedup_key=f"{entity}:{event}:{status}:{timestamp}",
        )

    return route


def report_rating_events(events: Sequence[InboxEvent]) -> list[AssetMaterialization | AssetObservation]:
    """SUCCESS/ALREADY_CALCULATED -> a materialization of round_ratings for the round; FAIL -> an
    observation, so the failure is visible on the asset."""
    reported: list[AssetMaterialization | AssetObservation] = []
    for e in events:
        if e.partition_key is None:
            continue
        metadata = {"inbox_id": e.id, "event": e.event_type or "", "source": RATINGS_SERVICE}
        if e.status is Status.NEW:
            reported.append(AssetMaterialization(ROUND_RATINGS, partition=e.partition_key, metadata=metadata))
        elif e.status is Status.FAILED:
            reported.append(
                AssetObservation(
                    ROUND_RATINGS,
                    partition=e.partition_key,
                    metadata={**metadata, "status": "FAIL", "reason": e.reason or ""},
                )
            )
    return reported


def build_rating_calculation_sensor(settings: Settings, job: ChainJob) -> SensorDefinition:
    topic = settings.section(MarathonSettings).topics.rating_calculation
    return make_kafka_sensor(
        settings,
        name="marathon_rating_calculation_sensor",
        topics=[topic],
        job=job,
        router_factory=rating_event_router,
        required_resource_keys=set(),
        description=(
            f"Reads {topic}; the ratings service's RATINGS_CALCULATION SUCCESS reports round_ratings "
            "materialized for the round, and the DW loads follow."
        ),
        reporter=report_rating_events,
    )
