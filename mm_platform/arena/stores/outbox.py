"""The outbox relay: output messages reach Kafka exactly once per handled ledger row.

A processor writes each output message as an `arena_outbox` row in the transaction that settles its
ledger row. The relay produces pending rows in id order with an idempotent producer (each message
carries its outbox id in the `mm-outbox-id` header), then marks them with the partition and offset
Kafka gave them. Before producing a chunk it records that it is sending it (`sending_at`). A crash
between producing and marking leaves rows that are sending but not marked: the next relay reads each
topic from just after the newest marked offset and marks the sending rows whose ids it finds there,
so nothing is produced twice and nothing is lost. With no such row (the normal case) it reads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update

from mm_platform.arena.stores.ledger_store import ArenaStore, outbox_table
from mm_platform.core.inbox import utcnow
from mm_platform.core.kafka import KafkaResource, OutgoingMessage

OUTBOX_HEADER = "mm-outbox-id"
# how many outbox rows one produce call sends and one transaction marks
CHUNK = 5000


@dataclass(frozen=True)
class RelayReport:
    produced: dict[str, int]  # topic -> messages produced by this relay
    recovered: int  # rows found on the topic already (a previous relay crashed before marking)
    pending_before: int


class OutboxRelay:
    def __init__(self, store: ArenaStore, kafka: KafkaResource) -> None:
        self.store = store
        self.kafka = kafka

    def relay(self, topics: Sequence[str]) -> RelayReport:
        pending = self.store.pending_outbox_count()
        produced = dict.fromkeys(topics, 0)
        if not pending:
            return RelayReport(produced, 0, 0)
        recovered = sum(self._recover(topic) for topic in topics)
        while True:
            rows = self._pending(CHUNK)
            if not rows:
                break
            # one topic at a time, in id order within it (a deltaker's messages keep their order)
            for topic in dict.fromkeys(r.topic for r in rows):
                batch = [r for r in rows if r.topic == topic]
                self._mark_sending([r.id for r in batch])
                placed = self.kafka.produce_messages(
                    topic,
                    [OutgoingMessage(r.message_key, r.value, {OUTBOX_HEADER: str(r.id)}) for r in batch],
                )
                self._mark([(r.id, p, o) for r, (p, o) in zip(batch, placed, strict=True)])
                produced[topic] = produced.get(topic, 0) + len(batch)
        return RelayReport(produced, recovered, pending)

    def _pending(self, limit: int) -> list:
        with self.store.engine.connect() as conn:
            return conn.execute(
                select(
                    outbox_table.c.id, outbox_table.c.topic, outbox_table.c.message_key, outbox_table.c.value
                )
                .where(outbox_table.c.produced_at.is_(None))
                .order_by(outbox_table.c.id)
                .limit(limit)
            ).all()

    def _mark_sending(self, ids: Sequence[int]) -> None:
        now = utcnow()
        with self.store.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(
                    update(outbox_table)
                    .where(outbox_table.c.id.in_(ids[start : start + 500]))
                    .values(sending_at=now)
                )

    def _mark(self, placements: Sequence[tuple[int, int, int]]) -> None:
        if not placements:
            return
        now = utcnow()
        # one statement executed for every row (executemany), in one transaction as before
        statement = (
            update(outbox_table)
            .where(outbox_table.c.id == bindparam("b_id"), outbox_table.c.produced_at.is_(None))
            .values(
                produced_at=bindparam("b_at"),
                produced_partition=bindparam("b_partition"),
                produced_offset=bindparam("b_offset"),
            )
        )
        with self.store.engine.begin() as conn:
            conn.execute(
                statement,
                [
                    {"b_id": outbox_id, "b_at": now, "b_partition": partition, "b_offset": offset}
                    for outbox_id, partition, offset in placements
                ],
            )

    def _recover(self, topic: str) -> int:
        """Mark the rows of `topic` that a previous relay was sending and may have produced but did
        not mark."""
        with self.store.engine.connect() as conn:
            start = {
                partition: offset + 1
                for partition, offset in conn.execute(
                    select(outbox_table.c.produced_partition, func.max(outbox_table.c.produced_offset))
                    .where(outbox_table.c.topic == topic, outbox_table.c.produced_at.is_not(None))
                    .group_by(outbox_table.c.produced_partition)
                )
            }
            pending = {
                row[0]
                for row in conn.execute(
                    select(outbox_table.c.id).where(
                        outbox_table.c.topic == topic,
                        outbox_table.c.produced_at.is_(None),
                        outbox_table.c.sending_at.is_not(None),
                    )
                )
            }
        if not pending:
            return 0
        # explicit offsets for every partition: a partition with no marked row is read from its start
        offsets: dict[str, dict[int, int]] = {
            topic: {p: start.get(p, 0) for p in self.kafka.partitions(topic)}
        }
        found: list[tuple[int, int, int]] = []
        while True:
            records, next_offsets = self.kafka.consume_batch(
                [topic], offsets, max_messages=50_000, max_seconds=30
            )
            for record in records:
                header = dict(record.headers).get(OUTBOX_HEADER)
                outbox_id = int(header) if header and header.isdigit() else None
                if outbox_id in pending:
                    found.append((outbox_id, record.partition, record.offset))
            if not records:
                break
            offsets = next_offsets
        self._mark(found)
        return len(found)
