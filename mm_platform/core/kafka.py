"""Kafka access for sensors and tools: bounded reads from explicit offsets, produce, topic admin.

Offsets are owned by the caller (a sensor cursor), so no consumer group is joined and nothing is
committed. Tansu's high watermark lags after batched produces, so a read goes on until a consume
call returns nothing rather than trusting the watermark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from dagster import ConfigurableResource
from pydantic import Field

from mm_platform.core.secrets import bound_secret
from mm_platform.core.settings import Settings

# librdkafka's own log lines (connection failures while a broker is down) go to Python logging
# instead of stderr, so they reach Dagster's captured logs.
librdkafka_logger = logging.getLogger("mm_platform.kafka.librdkafka")


class KafkaUnavailableError(RuntimeError):
    """The broker could not be reached or refused the request; nothing was read or written."""


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int | None


@dataclass(frozen=True)
class OutgoingMessage:
    key: str | bytes | None
    value: bytes | None  # None: a tombstone
    headers: Mapping[str, str | bytes] = field(default_factory=dict)


# one consume call's wait: a call returns early only when its batch is full
CONSUME_SLICE_SECONDS = 0.05

# Offsets are kept as {topic: {partition: next offset to read}}.
Offsets = Mapping[str, Mapping[int, int]]


class KafkaResource(ConfigurableResource):
    """confluent-kafka client settings; the same code talks to Tansu, MSK or Confluent Cloud."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca_location: str | None = None
    client_id: str = "mm-platform"
    request_timeout_seconds: float = Field(default=10.0, description="metadata and produce timeout")
    start_from: str = Field(
        default="earliest",
        description="where to start a partition that has no offset in the cursor yet: earliest | latest",
    )
    empty_poll_seconds: float = Field(
        default=0.5, description="a consume call that returns nothing for this long ends a read"
    )

    def _base_config(self) -> dict[str, object]:
        config: dict[str, object] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
            # fail fast and loudly instead of retrying forever inside librdkafka
            "socket.connection.setup.timeout.ms": int(self.request_timeout_seconds * 1000),
            "logger": librdkafka_logger,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = self.sasl_password or ""
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config

    def _consumer(self) -> Consumer:
        return Consumer(
            {
                **self._base_config(),
                # librdkafka wants a group id even for assign(); nothing is ever committed to it
                "group.id": f"{self.client_id}-reader",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
            }
        )

    def partitions(self, topic: str) -> list[int]:
        """Partition ids of `topic`; an empty list when the topic does not exist yet."""
        consumer = self._consumer()
        try:
            return self._partitions(consumer, topic)
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer, topic: str) -> list[int]:
        try:
            metadata = consumer.list_topics(topic, timeout=self.request_timeout_seconds)
        except KafkaException as exc:
            raise KafkaUnavailableError(f"Kafka at {self.bootstrap_servers} is unreachable: {exc}") from exc
        topic_metadata = metadata.topics.get(topic)
        if topic_metadata is None or topic_metadata.error is not None:
            if topic_metadata is not None and topic_metadata.error.code() not in (
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                KafkaError.LEADER_NOT_AVAILABLE,
            ):
                raise KafkaUnavailableError(f"metadata for topic {topic!r} failed: {topic_metadata.error}")
            return []
        return sorted(topic_metadata.partitions)

    def _start_offset(self, consumer: Consumer, topic: str, partition: int) -> int:
        if self.start_from == "earliest":
            return 0
        # "latest" skips a topic's history on first deployment. Tansu's watermark can lag, which
        # only means a few older messages are read too (the inbox keeps each message once).
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=self.request_timeout_seconds
        )
        return max(int(high), 0)

    def consume_batch(
        self,
        topics: Iterable[str],
        start_offsets: Offsets,
        max_messages: int,
        max_seconds: float,
    ) -> tuple[list[KafkaRecord], dict[str, dict[int, int]]]:
        """Read at most `max_messages` records (and for at most about `max_seconds`) from every
        partition of `topics`, starting at `start_offsets` (offset 0 for partitions not in it).

        Returns the records in partition order and the next offsets, which include partitions that
        were discovered but had nothing to read (new partitions start at `start_from`).
        Raises KafkaUnavailableError when the broker is down.
        """
        deadline = time.monotonic() + max_seconds
        consumer = self._consumer()
        try:
            next_offsets: dict[str, dict[int, int]] = {}
            assignment: list[TopicPartition] = []
            for topic in topics:
                known = start_offsets.get(topic, {})
                next_offsets[topic] = {
                    p: int(known[p]) if p in known else self._start_offset(consumer, topic, p)
                    for p in self._partitions(consumer, topic)
                }
                assignment += [TopicPartition(topic, p, o) for p, o in next_offsets[topic].items()]
            records: list[KafkaRecord] = []
            if not assignment:
                return records, next_offsets
            consumer.assign(assignment)
            idle_since: float | None = None
            while len(records) < max_messages:
                now = time.monotonic()
                remaining = deadline - now
                if remaining <= 0:
                    break
                # consume() waits its whole timeout unless the batch fills up: short calls return what
                # has arrived at once, and the read ends after `empty_poll_seconds` without a message
                messages = consumer.consume(
                    num_messages=min(500, max_messages - len(records)),
                    timeout=min(CONSUME_SLICE_SECONDS, self.empty_poll_seconds, remaining),
                )
                if not messages:
                    idle_since = idle_since if idle_since is not None else now
                    if time.monotonic() - idle_since >= self.empty_poll_seconds:
                        break
                    continue
                idle_since = None
                for message in messages:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise KafkaUnavailableError(f"reading {message.topic()}: {error}")
                    records.append(
                        KafkaRecord(
                            topic=message.topic(),
                            partition=message.partition(),
                            offset=message.offset(),
                            key=message.key(),
                            value=message.value(),
                            headers=tuple(message.headers() or ()),
                            timestamp_ms=message.timestamp()[1] if message.timestamp()[0] else None,
                        )
                    )
                    next_offsets[message.topic()][message.partition()] = message.offset() + 1
            records.sort(key=lambda r: (r.topic, r.partition, r.offset))
            return records, next_offsets
        except KafkaException as exc:
            raise KafkaUnavailableError(f"Kafka at {self.bootstrap_servers} failed: {exc}") from exc
        finally:
            consumer.close()

    def produce(
        self,
        topic: str,
        values: Iterable[bytes | str],
        key: bytes | str | None = None,
    ) -> int:
        """Produce `values` and wait for every delivery; raises if any was not acknowledged."""
        producer = Producer(
            {**self._base_config(), "message.timeout.ms": int(self.request_timeout_seconds * 1000)}
        )
        failures: list[str] = []

        def on_delivery(error: KafkaError | None, _message: object) -> None:
            if error is not None:
                failures.append(str(error))

        count = 0
        for value in values:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.1)  # local queue full: let deliveries drain
            count += 1
        remaining = producer.flush(self.request_timeout_seconds + 2)
        if remaining or failures:
            detail = failures[0] if failures else f"{remaining} message(s) still queued"
            raise KafkaUnavailableError(
                f"produce to {topic!r} at {self.bootstrap_servers} failed for "
                f"{len(failures) or remaining} of {count} message(s): {detail}"
            )
        return count

    def produce_messages(self, topic: str, messages: Sequence[OutgoingMessage]) -> list[tuple[int, int]]:
        """Produce `messages` in order with an idempotent producer (no duplicates or reordering from
        the client's own retries) and wait for every delivery; returns each message's (partition,
        offset). Raises KafkaUnavailableError if any message was not acknowledged."""
        producer = Producer(
            {
                **self._base_config(),
                "enable.idempotence": True,
                "message.timeout.ms": int(self.request_timeout_seconds * 1000),
            }
        )
        placed: list[tuple[int, int] | None] = [None] * len(messages)
        failures: list[str] = []

        def on_delivery(index: int) -> Callable[[KafkaError | None, Any], None]:
            def record(error: KafkaError | None, message: Any) -> None:
                if error is not None:
                    failures.append(str(error))
                else:
                    placed[index] = (message.partition(), message.offset())

            return record

        for index, message in enumerate(messages):
            while True:
                try:
                    producer.produce(
                        topic,
                        value=message.value,
                        key=message.key,
                        headers=list(message.headers.items()) or None,
                        on_delivery=on_delivery(index),
                    )
                    break
                except BufferError:
                    producer.poll(0.1)  # local queue full: let deliveries drain
        remaining = producer.flush(self.request_timeout_seconds + 2)
        if remaining or failures or any(p is None for p in placed):
            detail = failures[0] if failures else f"{remaining} message(s) still queued"
            raise KafkaUnavailableError(
                f"produce to {topic!r} at {self.bootstrap_servers} failed for "
                f"{len(failures) or remaining} of {len(messages)} message(s): {detail}"
            )
        return [p for p in placed if p is not None]

    def create_topics(self, topics: Mapping[str, int]) -> list[str]:
        """Create the topics (name -> partition count) that do not exist yet; returns those created."""
        admin = AdminClient(self._base_config())
        try:
            existing = set(admin.list_topics(timeout=self.request_timeout_seconds).topics)
        except KafkaException as exc:
            raise KafkaUnavailableError(f"Kafka at {self.bootstrap_servers} is unreachable: {exc}") from exc
        wanted = [NewTopic(name, num_partitions=n, replication_factor=1) for name, n in topics.items()]
        missing = [t for t in wanted if t.topic not in existing]
        if not missing:
            return []
        for name, future in admin.create_topics(
            missing, request_timeout=self.request_timeout_seconds
        ).items():
            try:
                future.result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise KafkaUnavailableError(f"creating topic {name!r} failed: {exc}") from exc
        return [t.topic for t in missing]


def kafka_resource(settings: Settings) -> KafkaResource:
    """The Kafka resource the settings describe, its SASL password bound as a secret (an `EnvVar`);
    outside a run, `.process_config_and_initialize()` resolves it."""
    return KafkaResource(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=bound_secret("MM_PLATFORM_KAFKA_SASL_PASSWORD"),
        ssl_ca_location=settings.kafka_ssl_ca_location,
        request_timeout_seconds=settings.kafka_timeout_seconds,
        start_from=settings.kafka_start_from,
    )
