"""Kafka -> inbox -> run requests, the one way events enter the platform.

`make_kafka_sensor` builds a sensor that, per tick, reads a bounded batch from the offsets in its
cursor, persists every message to the inbox with the verdict of the domain's router, adds dynamic
partitions and requests one run per partition. Dagster stores the run requests and the new cursor
together, and a tick that raises keeps the old cursor, so the inbox insert (idempotent on the
message coordinates) is the only write in the sensor body.

`make_inbox_retry_schedule` re-routes RETRY events (and NEW events whose dispatch was lost) and
`make_inbox_outcome_sensors` closes the loop: the run's outcome becomes HANDLED or FAILED.
"""

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dagster import (
    AssetMaterialization,
    AssetObservation,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    schedule,
    sensor,
)
from sqlalchemy.exc import DBAPIError

from mm_platform.core.inbox import (
    EventInbox,
    InboxEvent,
    InboxResource,
    NewEvent,
    Status,
    Verdict,
    decode_headers,
    is_data_error,
    utcnow,
)
from mm_platform.core.jobs import ChainJob
from mm_platform.core.kafka import KafkaRecord
from mm_platform.core.settings import Settings

INBOX_IDS_TAG = "mm_platform/inbox_ids"
SOURCE_TAG = "mm_platform/source"


class PayloadError(ValueError):
    """Raised by a router for a payload it cannot accept; the event is stored as INVALID."""


# A reporter turns the stored events of a batch into asset events (materializations of external
# assets) instead of run requests.
Reporter = Callable[[Sequence[InboxEvent]], list[AssetMaterialization | AssetObservation]]

# A router maps a parsed JSON object to a Verdict. It is built once per tick (or schedule run) from
# the context's resources, so it can look things up (read-only) in a database.
Router = Callable[[dict[str, Any]], Verdict]
RouterContext = SensorEvaluationContext | ScheduleEvaluationContext
RouterFactory = Callable[[RouterContext], Router]


def _no_constants(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def parse_value(value: bytes | None) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object in a message value, or None and the reason it is not one. NaN and Infinity
    are refused (they are not JSON, and PostgreSQL's json type refuses them)."""
    if value is None:
        return None, "empty message value (tombstone)"
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"message value is not UTF-8: {exc}"
    try:
        payload = json.loads(text, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError) as exc:  # also too deep, or an integer of too many digits
        return None, f"malformed JSON: {exc}"
    if not isinstance(payload, dict):
        return None, f"expected a JSON object, got {type(payload).__name__}"
    return payload, None


def route_payload(router: Router, payload: dict[str, Any]) -> Verdict:
    """The router's verdict; whatever the payload makes the router fail with (short of the database
    being unreachable) makes this one event INVALID instead of failing the tick."""
    try:
        return router(payload)
    except PayloadError as exc:
        return Verdict.invalid(str(exc))
    except Exception as exc:
        if isinstance(exc, (DBAPIError, OSError)) and not is_data_error(exc):
            raise  # infrastructure: the tick fails and its cursor stays
        return Verdict.invalid(f"cannot route the message: {type(exc).__name__}: {exc}")


def to_new_event(record: KafkaRecord, router: Router) -> NewEvent:
    payload, problem = parse_value(record.value)
    return NewEvent(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        headers=decode_headers(record.headers),
        raw_value=record.value,
        payload=payload,
        verdict=Verdict.invalid(problem) if payload is None else route_payload(router, payload),
    )


@dataclass(frozen=True)
class KafkaCursor:
    offsets: dict[str, dict[int, int]]
    # inbox events whose asset events the previous tick reported; marked HANDLED by the next tick,
    # because only then is it certain that Dagster stored the report
    reported: tuple[int, ...] = ()

    @classmethod
    def parse(cls, raw: str | None) -> "KafkaCursor":
        if not raw:
            return cls({})
        data = json.loads(raw)
        offsets = {t: {int(p): int(o) for p, o in parts.items()} for t, parts in data["offsets"].items()}
        return cls(offsets, tuple(int(i) for i in data.get("reported", ())))

    def serialize(self) -> str:
        data: dict[str, Any] = {
            "offsets": {t: {str(p): o for p, o in sorted(ps.items())} for t, ps in self.offsets.items()}
        }
        if self.reported:
            data["reported"] = list(self.reported)
        return json.dumps(data)


def _identity(event: InboxEvent) -> str:
    return event.dedup_key or event.source_ref or f"{event.topic}/{event.partition}/{event.offset}"


def runs_for_events(
    events: Iterable[InboxEvent], source: str, job: ChainJob | None, run_key_suffix: str = ""
) -> list[RunRequest]:
    """One run of the partitioned `job` per partition key covering all its NEW events (no chain job:
    one run per event). The run key is the business identity of the newest event, so a
    re-evaluated tick or a duplicate request launches nothing twice."""
    new = [e for e in events if e.status is Status.NEW]
    if job is None:
        return [
            RunRequest(
                run_key=f"{_identity(e)}{run_key_suffix}",
                tags={INBOX_IDS_TAG: str(e.id), SOURCE_TAG: source},
            )
            for e in new
        ]
    by_partition: dict[str, list[InboxEvent]] = {}
    for event in new:
        if event.partition_key is not None:
            by_partition.setdefault(event.partition_key, []).append(event)
    requests = []
    for partition_key, group in sorted(by_partition.items()):
        newest = max(group, key=lambda e: e.id)
        requests.append(
            job.run_request(
                run_key=f"{partition_key}|{_identity(newest)}{run_key_suffix}",
                partition_key=partition_key,
                tags={INBOX_IDS_TAG: ",".join(str(e.id) for e in group), SOURCE_TAG: source},
            )
        )
    return requests


def _summary(events: Sequence[InboxEvent]) -> str:
    counts: dict[str, int] = {}
    for e in events:
        counts[e.status.value] = counts.get(e.status.value, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing new"


def make_kafka_sensor(
    settings: Settings,
    *,
    name: str,
    topics: Sequence[str],
    job: ChainJob,
    router_factory: RouterFactory,
    required_resource_keys: set[str],
    description: str,
    reporter: Reporter | None = None,
) -> SensorDefinition:
    """A sensor on `topics` within the settings' budget (messages and seconds per tick, interval).
    With a `reporter`, NEW events are reported as asset events instead of launching runs."""
    partitions_def = job.partitions_def
    max_messages, max_seconds = settings.sensor_max_messages, settings.sensor_max_seconds
    minimum_interval_seconds = settings.sensor_interval_seconds

    @sensor(
        name=name,
        job=job.definition,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"kafka", "inbox", *required_resource_keys},
        description=description,
    )
    def _kafka_sensor(context: SensorEvaluationContext) -> SensorResult:
        cursor = KafkaCursor.parse(context.cursor)
        inbox: EventInbox = context.resources.inbox.get_inbox()
        if cursor.reported:
            inbox.transition(
                cursor.reported, Status.HANDLED, "reported as an asset event", only_from=[Status.NEW]
            )
        # raises KafkaUnavailableError when the broker is down: the tick fails, the cursor stays
        records, next_offsets = context.resources.kafka.consume_batch(
            topics, cursor.offsets, max_messages=max_messages, max_seconds=max_seconds
        )
        router = router_factory(context)
        stored = inbox.record_batch([to_new_event(r, router) for r in records])
        if reporter is not None:
            asset_events = reporter(stored)
            reported = tuple(e.id for e in stored if e.status is Status.NEW)
            summary = (
                f"read {len(records)} message(s): {_summary(stored)}; {len(asset_events)} asset event(s)"
            )
            context.log.info(summary)
            return SensorResult(
                asset_events=asset_events,
                cursor=KafkaCursor(next_offsets, reported).serialize(),
                skip_reason=None if asset_events else summary,
            )
        run_requests = runs_for_events(stored, source=name, job=job)
        new_keys = sorted(
            {
                r.partition_key
                for r in run_requests
                if r.partition_key
                and not context.instance.has_dynamic_partition(partitions_def.name, r.partition_key)
            }
        )
        summary = f"read {len(records)} message(s): {_summary(stored)}; {len(run_requests)} run request(s)"
        context.log.info(summary)
        return SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=[partitions_def.build_add_request(new_keys)] if new_keys else [],
            cursor=KafkaCursor(next_offsets).serialize(),
            skip_reason=None if run_requests else summary,
        )

    return _kafka_sensor


def make_inbox_retry_schedule(
    settings: Settings,
    *,
    name: str,
    topic: str,
    job: ChainJob | JobDefinition,
    router_factory: RouterFactory,
    required_resource_keys: set[str],
    cron_schedule: str = "* * * * *",
    stale_after: dt.timedelta = dt.timedelta(minutes=30),
    batch_size: int = 500,
):
    """Re-routes RETRY events of `topic` (a replay puts events there too) and NEW events whose run
    request was lost; gives up with FAILED after the settings' `retry_max_attempts`. A job that is not
    a chain job is unpartitioned and each event gets a run of its own."""
    max_attempts = settings.retry_max_attempts
    chain = job if isinstance(job, ChainJob) else None
    job_name = chain.name if chain else job.name

    @schedule(
        name=name,
        cron_schedule=cron_schedule,
        job=chain.definition if chain else job,
        default_status=DefaultScheduleStatus.RUNNING,
        required_resource_keys={"inbox", *required_resource_keys},
        description=f"Dispatches RETRY events of {topic} again once they can be routed.",
    )
    def _retry_schedule(context: ScheduleEvaluationContext):
        inbox: EventInbox = context.resources.inbox.get_inbox()
        router = router_factory(context)
        now = utcnow()
        candidates = inbox.select(statuses=[Status.RETRY], topic=topic, limit=batch_size)
        candidates += [
            e
            for e in inbox.select(statuses=[Status.NEW], topic=topic, limit=batch_size)
            if _as_utc(e.last_attempted or e.received_at) < now - stale_after
        ]
        # a NEW event is only stale when no run has it: a run may wait in the queue for long
        busy = events_in_active_runs(context.instance, job_name)
        candidates = [e for e in candidates if e.id not in busy]
        dispatched: list[InboxEvent] = []
        for event in candidates:
            routing = route_payload(router, event.payload) if isinstance(event.payload, dict) else None
            if routing is None:
                inbox.transition([event.id], Status.INVALID, "stored payload is not a JSON object")
            elif routing.status is Status.NEW:
                inbox.transition(
                    [event.id],
                    Status.NEW,
                    "dispatched by the retry schedule",
                    count_attempt=True,
                    partition_key=routing.partition_key,
                )
                dispatched.append(replace(event, status=Status.NEW, partition_key=routing.partition_key))
            elif routing.status is Status.RETRY and event.attempts + 1 >= max_attempts:
                inbox.transition(
                    [event.id],
                    Status.FAILED,
                    f"gave up after {event.attempts + 1} attempts: {routing.reason}",
                    count_attempt=True,
                )
            else:
                inbox.transition([event.id], routing.status, routing.reason, count_attempt=True)
        if not dispatched:
            return SkipReason(f"{len(candidates)} event(s) re-routed, none ready to run")
        if chain is not None:
            keys = sorted({e.partition_key for e in dispatched if e.partition_key})
            context.instance.add_dynamic_partitions(chain.partitions_def.name, keys)
        return runs_for_events(dispatched, source=name, job=chain, run_key_suffix=f"|retry-{now.isoformat()}")

    return _retry_schedule


# a run in any of these may still handle its events
ACTIVE_RUN_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def events_in_active_runs(instance: DagsterInstance, job_name: str) -> set[int]:
    """The inbox ids carried by the job's runs that have not ended."""
    runs = instance.get_runs(RunsFilter(job_name=job_name, statuses=ACTIVE_RUN_STATUSES))
    return {i for run in runs for i in inbox_ids_of(run.tags)}


def _as_utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def inbox_ids_of(tags: dict[str, str]) -> list[int]:
    raw = tags.get(INBOX_IDS_TAG, "")
    return [int(i) for i in raw.split(",") if i.strip().isdigit()]


def _error_text(error: Any) -> str:
    """The step error as a person reads it: the innermost cause (a wrapped exception's own message)."""
    if error is None:
        return "failed"
    root = error
    while root.cause is not None:
        root = root.cause
    return root.message.strip()


def make_inbox_outcome_sensors() -> list[SensorDefinition]:
    """Mark the inbox events a run was launched for as HANDLED or FAILED when the run ends."""

    @run_status_sensor(
        run_status=DagsterRunStatus.SUCCESS,
        name="inbox_handled_on_run_success",
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=2,
        description="Marks the inbox events of a successful run HANDLED.",
    )
    def inbox_handled_on_run_success(context: RunStatusSensorContext, inbox: InboxResource) -> None:
        ids = inbox_ids_of(context.dagster_run.tags)
        run_id = context.dagster_run.run_id
        if ids:
            events = inbox.get_inbox()
            # a run may itself have settled an event (a file it refused is INVALID, a submission it
            # dead-lettered is FAILED): that stays; a FAILED left by an earlier run becomes HANDLED
            settled = {e.id for e in events.get(ids) if e.status is Status.FAILED and e.run_id == run_id}
            events.transition(
                [i for i in ids if i not in settled],
                Status.HANDLED,
                None,
                run_id=run_id,
                count_attempt=True,
                only_from=[Status.NEW, Status.RETRY, Status.FAILED],
            )

    @run_failure_sensor(
        name="inbox_failed_on_run_failure",
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=2,
        description="Marks the inbox events of a failed run FAILED, with the failing step and error.",
    )
    def inbox_failed_on_run_failure(context: RunFailureSensorContext, inbox: InboxResource) -> None:
        ids = inbox_ids_of(context.dagster_run.tags)
        if not ids:
            return
        steps = [
            f"{f.step_key}: {_error_text(f.event_specific_data.error)}"
            for f in context.get_step_failure_events()
        ]
        reason = "; ".join(steps) or (context.failure_event.message or "run failed")
        events, run_id = inbox.get_inbox(), context.dagster_run.run_id
        # a dead letter the run settled itself keeps its own reason
        settled = {e.id for e in events.get(ids) if e.status is Status.FAILED and e.run_id == run_id}
        events.transition(
            [i for i in ids if i not in settled],
            Status.FAILED,
            f"run {context.dagster_run.run_id} failed: {reason}"[:4000],
            run_id=context.dagster_run.run_id,
            count_attempt=True,
            only_from=[Status.NEW, Status.FAILED, Status.RETRY],
        )

    return [inbox_handled_on_run_success, inbox_failed_on_run_failure]
