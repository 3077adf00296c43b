"""The event inbox: every consumed message, persisted once, with an ingest status.

Unique on (topic, partition, offset), so a sensor tick that is re-run after a failure inserts nothing
twice. Status moves NEW -> HANDLED / FAILED (by the run that handled it), or is set at ingest to
IGNORED / INVALID / RETRY with a reason. `replay` puts the newest event per entity back to RETRY,
as the Arena ACL's operators did by hand in SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from dagster import ConfigurableResource
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    select,
    update,
)
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from mm_platform.core.migrations import CORE_VERSIONS, migrated_metadata
from mm_platform.core.sql import create_tables, dialect_insert, engine_for, ensure_schema


class Status(str, Enum):
    NEW = "NEW"
    HANDLED = "HANDLED"
    RETRY = "RETRY"
    WAITING = "WAITING"
    FAILED = "FAILED"
    IGNORED = "IGNORED"
    INVALID = "INVALID"
    EXTERNAL_SOURCE = "EXTERNAL_SOURCE"  # settled: the record belongs to another system (Arena ACL)


metadata = migrated_metadata("core", CORE_VERSIONS)

event_inbox = Table(
    "event_inbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("topic", String(249), nullable=False),
    # a Kafka message is identified by its coordinates, an object (an S3 file) by its reference
    Column("kafka_partition", Integer),
    Column("kafka_offset", BigInteger),
    # Text: an S3 key alone may be 1,024 bytes (source_ref is key@etag@time); new databases only,
    # create_all does not widen the columns of an existing PostgreSQL inbox
    Column("source_ref", Text),
    Column("message_key", Text),
    # no headers is SQL NULL, not the JSON text null: one encoding less per message
    Column("headers", JSON(none_as_null=True)),
    Column("raw_value", LargeBinary),
    Column("payload", JSON),
    Column("event_type", String(100)),
    Column("entity_key", Text),
    Column("dedup_key", Text),
    Column("partition_key", String(200)),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("run_id", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("last_attempted", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("topic", "kafka_partition", "kafka_offset", name="uq_event_inbox_coordinates"),
    UniqueConstraint("topic", "source_ref", name="uq_event_inbox_source_ref"),
    Index("ix_event_inbox_status_id", "status", "id"),
    Index("ix_event_inbox_entity", "topic", "entity_key", "id"),
    Index("ix_event_inbox_dedup", "topic", "dedup_key"),
    # a topic's rows at one status in dedup-key order (the Arena ledger pages by pos this way)
    Index("ix_event_inbox_topic_status_dedup", "topic", "status", "dedup_key"),
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


MAX_REASON = 500
MAX_RAW_VALUE = 1_000_000  # Kafka's default message size limit


def clean_text(text: str | None, limit: int = MAX_REASON) -> str | None:
    """`text` as every database stores it: no NUL (PostgreSQL refuses it), no lone surrogates, at most
    `limit` characters."""
    if text is None:
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_data_error(exc: BaseException) -> bool:
    """Whether `exc` is a database or driver refusing one message's values (too long, NUL, NaN, an
    integer out of range), as opposed to an infrastructure failure (connection lost, database locked,
    table missing), which must fail the tick."""
    if isinstance(exc, DBAPIError):
        return isinstance(exc, (DataError, IntegrityError))
    return isinstance(exc, (StatementError, ValueError, TypeError, ArithmeticError, RecursionError))


def _error_line(exc: BaseException) -> str:
    """The first line of the database's own message (SQLAlchemy appends the statement and values)."""
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


@dataclass(frozen=True)
class Verdict:
    """What a domain's router says of one event; stored with it in the inbox."""

    status: Status
    reason: str | None = None
    event_type: str | None = None
    entity_key: str | None = None
    dedup_key: str | None = None  # the business identity: a second delivery is a duplicate
    partition_key: str | None = None  # the partition the event runs (status NEW; None: unpartitioned job)

    @classmethod
    def run(cls, partition_key: str | None, *, event_type: str, entity_key: str, dedup_key: str) -> Verdict:
        return cls(Status.NEW, None, event_type, entity_key, dedup_key, partition_key)

    @classmethod
    def ignored(cls, reason: str, *, event_type: str | None = None, entity_key: str | None = None) -> Verdict:
        return cls(Status.IGNORED, reason, event_type, entity_key)

    @classmethod
    def invalid(cls, reason: str, *, event_type: str | None = None, entity_key: str | None = None) -> Verdict:
        return cls(Status.INVALID, reason, event_type, entity_key)

    @classmethod
    def retry(cls, reason: str, *, event_type: str, entity_key: str, dedup_key: str | None = None) -> Verdict:
        return cls(Status.RETRY, reason, event_type, entity_key, dedup_key)


@dataclass(frozen=True)
class NewEvent:
    """One consumed message with the verdict of the domain's router."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str | None]
    raw_value: bytes | None
    payload: Any
    verdict: Verdict


@dataclass(frozen=True)
class NewObject:
    """One object seen in a store (an S3 file version) with the verdict of the domain's router."""

    topic: str  # e.g. s3://bucket
    ref: str  # unique within the topic, e.g. key@etag
    payload: Any
    verdict: Verdict


@dataclass(frozen=True)
class InboxEvent:
    id: int
    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    payload: Any
    event_type: str | None
    entity_key: str | None
    dedup_key: str | None
    partition_key: str | None
    status: Status
    reason: str | None
    attempts: int
    run_id: str | None
    received_at: dt.datetime
    last_attempted: dt.datetime | None
    source_ref: str | None = None


_FROM_ROW = object()


def _row_to_event(row: Any, payload: Any = _FROM_ROW) -> InboxEvent:
    """An InboxEvent from a row; `payload` stands in for the row's (None when the query did not select
    it)."""
    if payload is _FROM_ROW:
        payload = row.payload if "payload" in row._fields else None
    return InboxEvent(
        id=row.id,
        topic=row.topic,
        partition=row.kafka_partition,
        offset=row.kafka_offset,
        source_ref=row.source_ref,
        key=row.message_key,
        payload=payload,
        event_type=row.event_type,
        entity_key=row.entity_key,
        dedup_key=row.dedup_key,
        partition_key=row.partition_key,
        status=Status(row.status),
        reason=row.reason,
        attempts=row.attempts,
        run_id=row.run_id,
        received_at=row.received_at,
        last_attempted=row.last_attempted,
    )


def _inserted_event(row_id: int, row: dict[str, Any]) -> InboxEvent:
    """The InboxEvent of a row just inserted, from the values written."""
    return InboxEvent(
        id=row_id,
        topic=row["topic"],
        partition=row["kafka_partition"],
        offset=row["kafka_offset"],
        key=row["message_key"],
        payload=row["payload"],
        event_type=row["event_type"],
        entity_key=row["entity_key"],
        dedup_key=row["dedup_key"],
        partition_key=row["partition_key"],
        status=Status(row["status"]),
        reason=row["reason"],
        attempts=0,
        run_id=None,
        received_at=row["received_at"],
        last_attempted=None,
    )


class EventInbox:
    """Inbox operations on any SQLAlchemy engine (tested on SQLite and PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        create_tables(metadata, self.engine)

    def _insert_ignoring_duplicates(self, unique: Sequence[str]) -> Any:
        """An INSERT that skips rows already stored under `unique`. Executed with a list of rows,
        SQLAlchemy batches it (insertmanyvalues) and caches the compiled statement."""
        return dialect_insert(self.engine, event_inbox).on_conflict_do_nothing(index_elements=list(unique))

    def record_batch(self, events: Sequence[NewEvent]) -> list[InboxEvent]:
        """Persist a consumed batch once and return the stored rows in the batch's order.

        Messages already stored (a tick re-reading the same offsets) keep their row and status. An
        event whose dedup_key was seen before on the topic is stored as IGNORED (duplicate of ...).
        A message whose values the database refuses is stored INVALID with the database's reason; it
        never fails the batch. Infrastructure errors (connection, lock) propagate.
        """
        if not events:
            return []
        try:
            return self._record_batch(events)
        except Exception as exc:
            if not is_data_error(exc):
                raise
        # one message the database refuses must not stall the topic: store the batch one message at a
        # time (the insert is idempotent, so what was stored before the error is not stored twice)
        as_stored = []
        for e in events:
            try:
                self._record_batch([e])
            except Exception as exc:
                if not is_data_error(exc):
                    raise
                e = refused(e, exc)
                self._record_batch([e])
            as_stored.append(e)
        return self._record_batch(as_stored)

    def _record_batch(self, events: Sequence[NewEvent]) -> list[InboxEvent]:
        now = utcnow()
        with self.engine.begin() as conn:
            # A message stored before (a tick re-reading its offsets) is not looked up first: its
            # insert is skipped by the unique coordinates and the read-back returns its stored row.
            keys = {e.verdict.dedup_key for e in events if e.verdict.dedup_key}
            first_seen: dict[str, tuple[int, int]] = {}
            if keys:
                earlier = conn.execute(
                    select(event_inbox.c.dedup_key, event_inbox.c.kafka_partition, event_inbox.c.kafka_offset)
                    .where(event_inbox.c.topic.in_({e.topic for e in events}))
                    .where(event_inbox.c.dedup_key.in_(keys))
                    .order_by(event_inbox.c.id)
                )
                for dedup_key, partition, offset in earlier:
                    first_seen.setdefault(dedup_key, (partition, offset))
            rows = []
            for e in events:
                status, reason = e.verdict.status, e.verdict.reason
                if e.verdict.dedup_key and status is Status.NEW:
                    if e.verdict.dedup_key in first_seen:
                        partition, offset = first_seen[e.verdict.dedup_key]
                        status = Status.IGNORED
                        reason = f"duplicate of the event at partition {partition} offset {offset}"
                    else:
                        first_seen[e.verdict.dedup_key] = (e.partition, e.offset)
                rows.append(
                    {
                        "topic": e.topic,
                        "kafka_partition": e.partition,
                        "kafka_offset": e.offset,
                        "message_key": e.key,
                        "headers": e.headers or None,
                        "raw_value": e.raw_value,
                        "payload": e.payload,
                        "event_type": e.verdict.event_type,
                        "entity_key": e.verdict.entity_key,
                        "dedup_key": e.verdict.dedup_key,
                        "partition_key": e.verdict.partition_key,
                        "status": status.value,
                        "reason": clean_text(reason),
                        "attempts": 0,
                        "received_at": now,
                        "updated_at": now,
                    }
                )
            # RETURNING names the rows this insert added: they are known without reading them back
            statement = self._insert_ignoring_duplicates(["topic", "kafka_partition", "kafka_offset"])
            returned = conn.execute(
                statement.returning(
                    event_inbox.c.id,
                    event_inbox.c.topic,
                    event_inbox.c.kafka_partition,
                    event_inbox.c.kafka_offset,
                ),
                rows,  # never empty: record_batch returns early for an empty batch
            )
            inserted = {(topic, partition, offset): row_id for row_id, topic, partition, offset in returned}
            # the messages stored before (a re-read) are read back with their stored status
            stored = self._fetch_stored(conn, [e for e in events if _coords(e) not in inserted])
            for row, e in zip(rows, events, strict=True):
                if _coords(e) in inserted:
                    stored[_coords(e)] = _inserted_event(inserted[_coords(e)], row)
        return [stored[_coords(e)] for e in events]

    @staticmethod
    def _fetch_stored(conn: Any, events: Sequence[NewEvent]) -> dict[tuple[str, int, int], InboxEvent]:
        """The stored rows at the batch's coordinates. The payload is the batch's own (the same
        coordinates hold the same message), so it is not read back and decoded again."""
        payloads = {_coords(e): e.payload for e in events}
        columns = [c for c in event_inbox.c if c.name not in ("payload", "raw_value", "headers")]
        found: dict[tuple[str, int, int], InboxEvent] = {}
        ranges: dict[tuple[str, int], list[int]] = {}
        for e in events:
            ranges.setdefault((e.topic, e.partition), []).append(e.offset)
        for (topic, partition), offsets in ranges.items():
            result = conn.execute(
                select(*columns).where(
                    and_(
                        event_inbox.c.topic == topic,
                        event_inbox.c.kafka_partition == partition,
                        event_inbox.c.kafka_offset.between(min(offsets), max(offsets)),
                    )
                )
            )
            for row in result:
                coordinates = (row.topic, row.kafka_partition, row.kafka_offset)
                if coordinates in payloads:
                    found[coordinates] = _row_to_event(row, payload=payloads[coordinates])
        return found

    def record_objects(self, objects: Sequence[NewObject]) -> list[tuple[InboxEvent, bool]]:
        """Persist objects once (unique on topic and ref); returns each stored row and whether this
        call inserted it — a re-listed object keeps its first row and status."""
        if not objects:
            return []
        now = utcnow()
        with self.engine.begin() as conn:
            known = self._fetch_refs(conn, objects)
            rows = [
                {
                    "topic": o.topic,
                    "source_ref": o.ref,
                    "payload": o.payload,
                    "event_type": o.verdict.event_type,
                    "entity_key": o.verdict.entity_key,
                    "dedup_key": o.verdict.dedup_key,
                    "partition_key": o.verdict.partition_key,
                    "status": o.verdict.status.value,
                    "reason": clean_text(o.verdict.reason),
                    "attempts": 0,
                    "received_at": now,
                    "updated_at": now,
                }
                for o in objects
                if (o.topic, o.ref) not in known
            ]
            if rows:
                conn.execute(self._insert_ignoring_duplicates(["topic", "source_ref"]), rows)
            stored = self._fetch_refs(conn, objects)
        return [(stored[(o.topic, o.ref)], (o.topic, o.ref) not in known) for o in objects]

    def known_refs(self, topic: str, refs: Sequence[str]) -> set[str]:
        with self.engine.connect() as conn:
            return {
                ref
                for (_, ref) in self._fetch_refs(
                    conn, [NewObject(topic, r, None, Verdict(Status.NEW)) for r in refs]
                )
            }

    @staticmethod
    def _fetch_refs(conn: Any, objects: Sequence[NewObject]) -> dict[tuple[str, str], InboxEvent]:
        found: dict[tuple[str, str], InboxEvent] = {}
        by_topic: dict[str, list[str]] = {}
        for o in objects:
            by_topic.setdefault(o.topic, []).append(o.ref)
        for topic, refs in by_topic.items():
            for start in range(0, len(refs), 500):
                rows = conn.execute(
                    select(event_inbox).where(
                        event_inbox.c.topic == topic, event_inbox.c.source_ref.in_(refs[start : start + 500])
                    )
                )
                found.update({(row.topic, row.source_ref): _row_to_event(row) for row in rows})
        return found

    def transition(
        self,
        ids: Iterable[int],
        status: Status,
        reason: str | None,
        *,
        run_id: str | None = None,
        count_attempt: bool = False,
        only_from: Iterable[Status] | None = None,
        partition_key: str | None = None,
    ) -> int:
        """Set the status (and reason) of the given events; returns how many rows changed."""
        ids = list(ids)
        if not ids:
            return 0
        now = utcnow()
        values: dict[str, Any] = {
            "status": status.value,
            "reason": clean_text(reason, 4000),
            "updated_at": now,
        }
        if run_id is not None:
            values["run_id"] = run_id
        if partition_key is not None:
            values["partition_key"] = partition_key
        if count_attempt:
            values["attempts"] = event_inbox.c.attempts + 1
            values["last_attempted"] = now
        changed = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                statement = update(event_inbox).where(event_inbox.c.id.in_(ids[start : start + 500]))
                if only_from is not None:
                    statement = statement.where(event_inbox.c.status.in_([s.value for s in only_from]))
                changed += conn.execute(statement.values(**values)).rowcount
        return changed

    def select(
        self,
        *,
        statuses: Iterable[Status] | None = None,
        topic: str | None = None,
        entity_key: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[InboxEvent]:
        """Events in id order after `after_id` (keyset paging: pass the last id of the previous page)."""
        query = select(event_inbox).where(event_inbox.c.id > after_id)
        if statuses is not None:
            query = query.where(event_inbox.c.status.in_([s.value for s in statuses]))
        if topic is not None:
            query = query.where(event_inbox.c.topic == topic)
        if entity_key is not None:
            query = query.where(event_inbox.c.entity_key == entity_key)
        with self.engine.connect() as conn:
            return [_row_to_event(r) for r in conn.execute(query.order_by(event_inbox.c.id).limit(limit))]

    def get(self, ids: Iterable[int]) -> list[InboxEvent]:
        ids = list(ids)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(event_inbox).where(event_inbox.c.id.in_(ids)).order_by(event_inbox.c.id)
            )
            return [_row_to_event(r) for r in rows]

    def latest_id(self) -> int:
        """The id of the newest event (0 for an empty inbox)."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(event_inbox.c.id))).scalar_one() or 0

    def counts(self, topic: str | None = None) -> dict[str, int]:
        query = select(event_inbox.c.status, func.count()).group_by(event_inbox.c.status)
        if topic is not None:
            query = query.where(event_inbox.c.topic == topic)
        with self.engine.connect() as conn:
            return {status: count for status, count in conn.execute(query)}

    def replay(
        self,
        topic: str,
        *,
        entity_keys: Iterable[str] | None = None,
        statuses: Iterable[Status] = (Status.HANDLED, Status.FAILED),
    ) -> int:
        """Put the newest event of each entity back to RETRY (if its status is one of `statuses`),
        so the topic's retry schedule dispatches it again. Returns the number of events replayed.
        IGNORED events (a duplicate delivery, a phase that is not ours) do not count as the newest
        unless IGNORED is asked for: a redelivery must not make a dead letter unreplayable."""
        statuses = list(statuses)
        newest = (
            select(func.max(event_inbox.c.id))
            .where(event_inbox.c.topic == topic)
            .where(event_inbox.c.entity_key.is_not(None))
            .group_by(event_inbox.c.entity_key)
        )
        if Status.IGNORED not in statuses:
            newest = newest.where(event_inbox.c.status != Status.IGNORED.value)
        if entity_keys is not None:
            newest = newest.where(event_inbox.c.entity_key.in_(list(entity_keys)))
        # only the newest event of an entity counts: an older one is never replayed over a newer one
        chosen = select(event_inbox.c.id).where(
            event_inbox.c.id.in_(newest),
            event_inbox.c.status.in_([s.value for s in statuses]),
        )
        with self.engine.begin() as conn:
            ids = [row[0] for row in conn.execute(chosen)]
            if not ids:
                return 0
            conn.execute(
                update(event_inbox)
                .where(event_inbox.c.id.in_(ids))
                .values(
                    status=Status.RETRY.value,
                    attempts=0,
                    last_attempted=None,
                    reason="replay requested",
                    updated_at=utcnow(),
                )
            )
        return len(ids)


def refused(event: NewEvent, exc: BaseException) -> NewEvent:
    """`event` as an INVALID row every database accepts: the refusal as reason, the key and headers
    cleaned, the raw bytes kept (truncated) and no parsed payload or routing keys."""
    return NewEvent(
        topic=event.topic,
        partition=event.partition,
        offset=event.offset,
        key=clean_text(event.key, 1000),
        headers={clean_text(k, 200) or "": clean_text(v, 1000) for k, v in (event.headers or {}).items()},
        raw_value=event.raw_value[:MAX_RAW_VALUE] if event.raw_value is not None else None,
        payload=None,
        verdict=Verdict.invalid(f"the database refused the message: {_error_line(exc)}"),
    )


def _coords(e: NewEvent) -> tuple[str, int, int]:
    return (e.topic, e.partition, e.offset)


def decode_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str | None]:
    return {k: (v.decode("utf-8", "replace") if v is not None else None) for k, v in headers}


class InboxResource(ConfigurableResource):
    """The platform database that holds the event inbox (created on first use)."""

    database_url: str

    def get_inbox(self) -> EventInbox:
        return EventInbox(ensure_schema(metadata, engine_for(self.database_url)))
