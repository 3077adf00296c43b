"""The Arena ACL's tables (spec §2.1) next to the ledger, in the platform database.

The ledger itself is the shared event inbox: one row per Kafka message of the three Arena topics, with
the Arena statuses, `entity_key` = `<table>:<arena id>` (one deltaker's history) and `dedup_key` =
`<table>:<pos>:<operation>` (the original's upsert key, pos first so that a topic's keys sort in pos
order; a second delivery of the same operation is stored IGNORED as a duplicate and is never processed
twice). Next to it, in the same database so that one transaction settles a ledger row with everything
it wrote:

- `arena_gjennomforing`: arena id, tiltakskode (first value kept), validity, Mulighetsrommet id;
- `arena_deltaker`: the raw Arena values of handled deltakere (the hist matcher reads them);
- `arena_id_translation` / `arena_hist_id_translation`: Arena id <-> AMT id;
- `arena_outbox`: one row per output message, produced and marked by the relay (`outbox.py`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TextClause,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)

from mm_platform.arena.migrations import VERSIONS
from mm_platform.arena.rules.dependencies import KnownGjennomforing
from mm_platform.arena.rules.envelope import TILTAKDELTAKER_TABLE, Operation
from mm_platform.arena.rules.ledger import ArenaStatus, LedgerRow
from mm_platform.arena.rules.payloads import ArenaDeltaker
from mm_platform.core.inbox import clean_text, event_inbox, utcnow
from mm_platform.core.inbox import metadata as inbox_metadata
from mm_platform.core.migrations import migrated_metadata
from mm_platform.core.sql import create_tables, dialect_insert, ensure_schema

metadata = migrated_metadata("arena", VERSIONS)
_ID = BigInteger().with_variant(Integer, "sqlite")

gjennomforing_table = Table(
    "arena_gjennomforing",
    metadata,
    Column("arena_id", String(40), primary_key=True),
    Column("tiltak_kode", Text, nullable=False),  # any text Arena sends; unsupported ones are stored too
    Column("is_valid", Boolean, nullable=False),
    Column("mr_id", String(36)),  # the Mulighetsrommet id, once looked up
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("modified_at", DateTime(timezone=True), nullable=False),
)

deltaker_table = Table(
    "arena_deltaker",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("arena_id", String(40), nullable=False),
    Column("arena_source_table", String(40), nullable=False),
    Column("person_id", BigInteger),
    Column("gjennomforing_id", BigInteger, nullable=False),
    Column("dato_fra", Date),
    Column("dato_til", Date),
    Column("reg_dato", DateTime),
    Column("mod_dato", DateTime),
    Column("status", String(40), nullable=False),  # the Arena code; FEILREGISTRERT after a delete
    Column("dato_statusendring", DateTime),
    Column("ekstern_id", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("modified_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("arena_id", "arena_source_table", name="uq_arena_deltaker_source"),
    Index("ix_arena_deltaker_person", "person_id", "gjennomforing_id"),
)

translation_table = Table(
    "arena_id_translation",
    metadata,
    Column("amt_id", String(36), primary_key=True),
    Column("arena_table_name", String(40), nullable=False),
    Column("arena_id", String(40), nullable=False),
    UniqueConstraint("arena_table_name", "arena_id", name="uq_arena_id_translation"),
)

hist_translation_table = Table(
    "arena_hist_id_translation",
    metadata,
    Column("amt_id", String(36), primary_key=True),
    Column("arena_hist_id", String(40), nullable=False, unique=True),
    Column("arena_id", String(40)),
)

outbox_table = Table(
    "arena_outbox",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("ledger_id", BigInteger, nullable=False),  # the event_inbox row that produced it
    Column("topic", String(249), nullable=False),
    Column("message_key", String(100), nullable=False),
    Column("value", LargeBinary),  # None: a tombstone
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sending_at", DateTime(timezone=True)),  # a relay was about to produce it
    Column("produced_at", DateTime(timezone=True)),
    Column("produced_partition", Integer),
    Column("produced_offset", BigInteger),
    Index("ix_arena_outbox_pending", "produced_at", "id"),
    Index("ix_arena_outbox_ledger", "ledger_id"),
)


# INSERT ... ON CONFLICT as text, built once per shape: SQLAlchemy does not cache the compiled form of
# its SQLite on-conflict construct, so every row paid a compile. The SQL is what that construct
# writes, and valid on both databases; the bind parameters carry the columns' types, so values are
# stored exactly as before.
_ON_CONFLICT: dict[tuple[str, tuple[str, ...], tuple[str, ...] | None, tuple[str, ...]], TextClause] = {}


def _on_conflict(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    keys: Sequence[str] | None = None,
    updated: Sequence[str] = (),
) -> TextClause:
    """INSERT INTO table (columns) ... ON CONFLICT (keys) DO UPDATE SET updated = excluded.updated, or
    ON CONFLICT DO NOTHING when nothing is updated."""
    if conn.dialect.name not in ("sqlite", "postgresql"):
        dialect_insert(conn, table)  # refuses other databases, as the construct did
    shape = (table.name, tuple(columns), tuple(keys) if keys is not None else None, tuple(updated))
    statement = _ON_CONFLICT.get(shape)
    if statement is None:
        target = f" ({', '.join(keys)})" if keys else ""
        action = (
            "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updated) if updated else "DO NOTHING"
        )
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT{target} {action}"
        )
        statement = text(sql).bindparams(*[bindparam(c, type_=table.c[c].type) for c in columns])
        _ON_CONFLICT[shape] = statement
    return statement


# statements the processors run for every row, built once (SQLAlchemy's statement construction and
# cache-key generation cost more than the SQLite statement itself)
_HISTORY = select(event_inbox.c.id, event_inbox.c.dedup_key, event_inbox.c.status).where(
    event_inbox.c.topic == bindparam("b_topic"), event_inbox.c.entity_key == bindparam("b_entity")
)
_OUTBOX_INSERT = outbox_table.insert()
_SETTLE: dict[tuple[str, ...], Any] = {}


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger row as the processors read it."""

    id: int
    topic: str
    table: str
    operation: Operation
    pos: str
    arena_id: str
    op_ts: str
    data: dict[str, Any]  # the typed payload of the side the operation uses (before for D)
    status: ArenaStatus
    attempts: int
    last_attempted: dt.datetime | None
    note: str | None


def ledger_payload(
    table: str,
    operation: Operation,
    op_ts: dt.datetime,
    pos: str,
    arena_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "table": table,
        "operation": operation.value,
        "op_ts": op_ts.isoformat(),
        "pos": pos,
        "arena_id": arena_id,
        "before": before,
        "after": after,
    }


def entity_key(table: str, arena_id: str) -> str:
    return f"{table}:{arena_id}"


def dedup_key(table: str, operation: Operation, pos: str) -> str:
    """The original's upsert key (table, operation, pos), pos first after the table: within a topic
    the keys sort in pos order (pos is zero-padded), so the ledger is paged by it (§3)."""
    return f"{table}:{pos}:{operation.value}"


def pos_of(key: str | None) -> str:
    """The pos in a dedup key (`table:pos:operation`)."""
    parts = (key or "").rsplit(":", 2)
    return parts[1] if len(parts) == 3 else ""


def _entry(row: Any) -> LedgerEntry | None:
    payload = row.payload
    if not isinstance(payload, dict) or "table" not in payload:
        return None
    operation = Operation(payload["operation"])
    data = payload["before"] if operation is Operation.DELETED else payload["after"]
    return LedgerEntry(
        id=row.id,
        topic=row.topic,
        table=payload["table"],
        operation=operation,
        pos=payload["pos"],
        arena_id=payload["arena_id"],
        op_ts=payload["op_ts"],
        data=data or {},
        status=ArenaStatus(row.status),
        attempts=row.attempts,
        last_attempted=_as_utc(row.last_attempted),
        note=row.reason,
    )


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


_LEDGER_COLUMNS = [
    event_inbox.c.id,
    event_inbox.c.topic,
    event_inbox.c.payload,
    event_inbox.c.status,
    event_inbox.c.attempts,
    event_inbox.c.last_attempted,
    event_inbox.c.reason,
]


class ArenaStore:
    """Reads and writes of the ledger and the Arena tables on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, engine: Engine) -> ArenaStore:
        ensure_schema(inbox_metadata, engine)
        return cls(ensure_schema(metadata, engine))

    def create_schema(self) -> None:
        create_tables(inbox_metadata, self.engine)
        create_tables(metadata, self.engine)

    # ---- the ledger ----------------------------------------------------------------------------

    def page(
        self, topic: str, statuses: Iterable[ArenaStatus], after_key: str, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        """Ledger rows of `topic` at `statuses` in pos order after `after_key` (keyset paging on the
        dedup key, as the original pages by operation_pos), and the last key read (None when the page
        is empty). A row without a ledger payload (an INVALID value put back by hand) is skipped."""
        query = (
            select(*_LEDGER_COLUMNS, event_inbox.c.dedup_key)
            .where(event_inbox.c.topic == topic)
            .where(event_inbox.c.status.in_([s.value for s in statuses]))
            .where(event_inbox.c.dedup_key > after_key)
            .order_by(event_inbox.c.dedup_key)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        entries = [e for e in (_entry(r) for r in rows) if e is not None]
        return entries, rows[-1].dedup_key if rows else None

    def retry_timings(self, topics: Sequence[str]) -> list[tuple[int, dt.datetime | None]]:
        """(attempts, last_attempted) of every RETRY row of `topics`: what the back-off needs."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(event_inbox.c.attempts, event_inbox.c.last_attempted).where(
                    event_inbox.c.topic.in_(list(topics)), event_inbox.c.status == ArenaStatus.RETRY.value
                )
            )
            return [(attempts, _as_utc(last)) for attempts, last in rows]

    def history(
        self,
        conn: Connection,
        topic: str,
        table: str,
        arena_id: str,
        settled: Mapping[int, ArenaStatus] | None = None,
    ) -> list[LedgerRow]:
        """Every ledger row of one Arena id (pos and status), for the ordering guard; `settled` are
        statuses given but not yet written (a page's `PageWrites.statuses`), which win."""
        settled = settled or {}
        rows = conn.execute(_HISTORY, {"b_topic": topic, "b_entity": entity_key(table, arena_id)})
        return [
            LedgerRow(pos_of(key), settled.get(row_id) or ArenaStatus(status))
            for row_id, key, status in rows
            if key
        ]

    def settle(
        self,
        conn: Connection,
        ledger_id: int,
        status: ArenaStatus,
        note: str | None,
        *,
        attempts: int | None = None,
        attempted: bool = False,
        now: dt.datetime | None = None,
    ) -> None:
        """One row's status now (a page settles through `PageWrites`)."""
        writes = PageWrites(conn)
        writes.settle(ledger_id, status, note, attempts=attempts, attempted=attempted, now=now)
        writes.flush()

    def requeue_waiting(self, conn: Connection, topics: Sequence[str], gjennomforing_id: str) -> int:
        """WAITING deltaker and hist rows of the gjennomføring back to RETRY with 0 attempts (§2.5,
        hist rows too per §10). WAITING rows are few (deltakere of invalid gjennomføringer), so they
        are filtered here rather than by a JSON query each database spells differently."""
        rows = conn.execute(
            select(event_inbox.c.id, event_inbox.c.payload).where(
                event_inbox.c.topic.in_(list(topics)), event_inbox.c.status == ArenaStatus.WAITING.value
            )
        )
        ids = []
        for ledger_id, payload in rows:
            entry = payload if isinstance(payload, dict) else {}
            sides = [entry.get("after"), entry.get("before")]
            if any(
                isinstance(s, dict) and str(s.get("TILTAKGJENNOMFORING_ID")) == gjennomforing_id
                for s in sides
            ):
                ids.append(ledger_id)
        if ids:
            conn.execute(
                update(event_inbox)
                .where(event_inbox.c.id.in_(ids))
                .values(
                    status=ArenaStatus.RETRY.value,
                    attempts=0,
                    last_attempted=None,
                    reason=f"gjennomføring {gjennomforing_id} is valid now",
                    updated_at=utcnow(),
                )
            )
        return len(ids)

    def resend(
        self, topic: str, statuses: Iterable[ArenaStatus], arena_ids: Iterable[str] | None = None
    ) -> int:
        """The newest row (highest pos) of each Arena id of `topic` back to RETRY with 0 attempts when
        it is at one of `statuses` (the README re-send and relast-deltakere, §2.5)."""
        wanted = {s.value for s in statuses}
        chosen = set(arena_ids) if arena_ids is not None else None
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(
                    event_inbox.c.id, event_inbox.c.entity_key, event_inbox.c.dedup_key, event_inbox.c.status
                )
                .where(event_inbox.c.topic == topic, event_inbox.c.entity_key.is_not(None))
                .where(event_inbox.c.status != ArenaStatus.IGNORED.value)
            )
            newest: dict[str, tuple[str, int, str]] = {}
            for ledger_id, entity, key, status in rows:
                if chosen is not None and entity.rpartition(":")[2] not in chosen:
                    continue
                candidate = (pos_of(key), ledger_id, status)
                if entity not in newest or candidate > newest[entity]:
                    newest[entity] = candidate
            ids = [ledger_id for _pos, ledger_id, status in newest.values() if status in wanted]
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(event_inbox)
                    .where(event_inbox.c.id.in_(ids[start : start + 500]))
                    .values(
                        status=ArenaStatus.RETRY.value,
                        attempts=0,
                        last_attempted=None,
                        reason="re-send requested",
                        updated_at=utcnow(),
                    )
                )
        return len(ids)

    def delete_ignored(self, topics: Sequence[str], older_than: dt.datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                delete(event_inbox).where(
                    event_inbox.c.topic.in_(list(topics)),
                    event_inbox.c.status == ArenaStatus.IGNORED.value,
                    event_inbox.c.updated_at < older_than,
                )
            ).rowcount

    def status_counts(self, topics: Sequence[str]) -> dict[str, dict[str, int]]:
        """{topic: {status: count}} of the ledger."""
        query = (
            select(event_inbox.c.topic, event_inbox.c.status, func.count())
            .where(event_inbox.c.topic.in_(list(topics)))
            .group_by(event_inbox.c.topic, event_inbox.c.status)
        )
        counts: dict[str, dict[str, int]] = {t: {} for t in topics}
        with self.engine.connect() as conn:
            for topic, status, count in conn.execute(query):
                counts[topic][status] = count
        return counts

    def entity_history(self, topic: str, table: str, arena_id: str) -> list[dict[str, Any]]:
        """The ledger rows of one Arena id in pos order, with their notes and the messages published
        for them (`mm-platform arena show`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(event_inbox).where(
                    event_inbox.c.topic == topic, event_inbox.c.entity_key == entity_key(table, arena_id)
                )
            ).all()
            ids = [r.id for r in rows]
            published: dict[int, list[dict[str, Any]]] = {}
            if ids:
                for o in conn.execute(select(outbox_table).where(outbox_table.c.ledger_id.in_(ids))):
                    published.setdefault(o.ledger_id, []).append(
                        {
                            "topic": o.topic,
                            "key": o.message_key,
                            "value": o.value.decode("utf-8") if o.value is not None else None,
                            "produced_at": o.produced_at.isoformat() if o.produced_at else None,
                        }
                    )
        history = [
            {
                "ledger_id": r.id,
                "pos": pos_of(r.dedup_key),
                "operation": (r.payload or {}).get("operation") if isinstance(r.payload, dict) else None,
                "status": r.status,
                "attempts": r.attempts,
                "note": r.reason,
                "received_at": r.received_at.isoformat(),
                "last_attempted": r.last_attempted.isoformat() if r.last_attempted else None,
                "published": published.get(r.id, []),
            }
            for r in rows
        ]
        return sorted(history, key=lambda h: (h["pos"], h["ledger_id"]))

    # ---- gjennomføringer ---------------------------------------------------------------------------

    def gjennomforing(self, conn: Connection, arena_id: str) -> KnownGjennomforing | None:
        row = conn.execute(
            select(gjennomforing_table).where(gjennomforing_table.c.arena_id == arena_id)
        ).first()
        if row is None:
            return None
        return KnownGjennomforing(
            row.arena_id, row.tiltak_kode, row.is_valid, uuid.UUID(row.mr_id) if row.mr_id else None
        )

    def upsert_gjennomforing(self, conn: Connection, arena_id: str, tiltak_kode: str, is_valid: bool) -> None:
        """Insert; on conflict only is_valid changes (the tiltakskode keeps its first value, §4.2)."""
        now = utcnow()
        row = {
            "arena_id": arena_id,
            "tiltak_kode": tiltak_kode,
            "is_valid": is_valid,
            "created_at": now,
            "modified_at": now,
        }
        conn.execute(
            _on_conflict(conn, gjennomforing_table, list(row), ["arena_id"], ["is_valid", "modified_at"]), row
        )

    def set_mr_id(self, conn: Connection, arena_id: str, mr_id: uuid.UUID) -> None:
        conn.execute(
            update(gjennomforing_table)
            .where(gjennomforing_table.c.arena_id == arena_id)
            .values(mr_id=str(mr_id), modified_at=utcnow())
        )

    # ---- translations ------------------------------------------------------------------------------

    def amt_id(self, conn: Connection, table: str, arena_id: str) -> uuid.UUID | None:
        value = conn.execute(
            select(translation_table.c.amt_id).where(
                translation_table.c.arena_table_name == table, translation_table.c.arena_id == arena_id
            )
        ).scalar()
        return uuid.UUID(value) if value else None

    def translation_of(self, conn: Connection, amt_id: str) -> tuple[str, str] | None:
        row = conn.execute(select(translation_table).where(translation_table.c.amt_id == amt_id)).first()
        return (row.arena_table_name, row.arena_id) if row is not None else None

    def add_translation(self, conn: Connection, amt_id: str, table: str, arena_id: str) -> None:
        row = {"amt_id": amt_id, "arena_table_name": table, "arena_id": arena_id}
        conn.execute(_on_conflict(conn, translation_table, list(row)), row)

    def amt_id_or_new(self, conn: Connection, table: str, arena_id: str) -> uuid.UUID:
        known = self.amt_id(conn, table, arena_id)
        if known is not None:
            return known
        self.add_translation(conn, str(uuid.uuid4()), table, arena_id)
        created = self.amt_id(conn, table, arena_id)
        assert created is not None
        return created

    def hist_translation(
        self, conn: Connection, *, amt_id: str | None = None, hist_id: str | None = None
    ) -> Any:
        column, value = (
            (hist_translation_table.c.amt_id, amt_id)
            if amt_id is not None
            else (hist_translation_table.c.arena_hist_id, hist_id)
        )
        return conn.execute(select(hist_translation_table).where(column == value)).first()

    def add_hist_translation(self, conn: Connection, amt_id: str, hist_id: str, arena_id: str | None) -> None:
        row = {"amt_id": amt_id, "arena_hist_id": hist_id, "arena_id": arena_id}
        conn.execute(_on_conflict(conn, hist_translation_table, list(row)), row)

    # ---- deltakere -------------------------------------------------------------------------------------

    def upsert_deltaker(self, conn: Connection, deltaker: ArenaDeltaker, status: str | None = None) -> None:
        now = utcnow()
        row = {
            "arena_id": deltaker.arena_id,
            "arena_source_table": TILTAKDELTAKER_TABLE,
            "person_id": deltaker.person_id,
            "gjennomforing_id": deltaker.tiltakgjennomforing_id,
            "dato_fra": deltaker.dato_fra,
            "dato_til": deltaker.dato_til,
            "reg_dato": deltaker.reg_dato,
            "mod_dato": deltaker.mod_dato,
            "status": status or deltaker.deltakerstatuskode,
            "dato_statusendring": deltaker.dato_statusendring,
            "ekstern_id": deltaker.ekstern_id,
            "modified_at": now,
            "created_at": now,
        }
        kept = {"arena_id", "arena_source_table", "created_at"}
        conn.execute(
            _on_conflict(
                conn,
                deltaker_table,
                list(row),
                ["arena_id", "arena_source_table"],
                [c for c in row if c not in kept],
            ),
            row,
        )

    def deltakere_of(self, conn: Connection, person_id: int, gjennomforing_id: int) -> list[Any]:
        return conn.execute(
            select(deltaker_table).where(
                deltaker_table.c.person_id == person_id,
                deltaker_table.c.gjennomforing_id == gjennomforing_id,
                deltaker_table.c.arena_source_table == TILTAKDELTAKER_TABLE,
            )
        ).all()

    # ---- the outbox -----------------------------------------------------------------------------------

    def pending_outbox_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.produced_at.is_(None))
            ).scalar_one()


class PageWrites:
    """The statuses and outbox rows of one page of a ledger run, written together just before the
    page commits: one executemany each instead of two statements per row. `statuses` holds what the
    page settled so far; the ordering guard reads it over the stored statuses (`ArenaStore.history`)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.statuses: dict[int, ArenaStatus] = {}
        self.outbox_rows = 0
        self._settles: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self._outbox: list[dict[str, Any]] = []

    def settle(
        self,
        ledger_id: int,
        status: ArenaStatus,
        note: str | None,
        *,
        attempts: int | None = None,
        attempted: bool = False,
        now: dt.datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "b_id": ledger_id,
            "status": status.value,
            "reason": clean_text(note),
            "updated_at": utcnow(),
        }
        if attempts is not None:
            values["attempts"] = attempts
        if attempted:
            values["last_attempted"] = now or utcnow()
        self._settles.setdefault(tuple(sorted(values)), []).append(values)
        self.statuses[ledger_id] = status

    def add_outbox(self, ledger_id: int, topic: str, key: str, value: bytes | None) -> None:
        self._outbox.append(
            {
                "ledger_id": ledger_id,
                "topic": topic,
                "message_key": key,
                "value": value,
                "created_at": utcnow(),
            }
        )
        self.outbox_rows += 1

    def flush(self) -> None:
        """Write what was gathered (in the page's transaction); the outbox keeps the page's order."""
        for shape, rows in self._settles.items():
            # one statement per shape, built once: building it per row cost more than running it
            if shape not in _SETTLE:
                _SETTLE[shape] = (
                    update(event_inbox)
                    .where(event_inbox.c.id == bindparam("b_id"))
                    .values({c: bindparam(c) for c in shape if c != "b_id"})
                )
            self.conn.execute(_SETTLE[shape], rows)
        if self._outbox:
            self.conn.execute(_OUTBOX_INSERT, self._outbox)
        self._settles, self._outbox = {}, []
