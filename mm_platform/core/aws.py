"""AWS resources. S3 is dagster-aws's S3Resource; DynamoDB and Kinesis use the same boto3
configuration base, so an endpoint override points them all at moto (embedded, tests) or leaves them
on AWS (production)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from dagster_aws.s3 import S3Resource
from dagster_aws.utils import ResourceWithBoto3Configuration

from mm_platform.core.settings import Settings

# moto accepts any credentials; AWS itself gets the default credential chain (None)
EMBEDDED_CREDENTIALS = {"aws_access_key_id": "embedded", "aws_secret_access_key": "embedded"}


class Boto3ClientResource(ResourceWithBoto3Configuration):
    """boto3 clients configured from dagster-aws's common settings (region, endpoint, retries)."""

    def _session(self) -> boto3.session.Session:
        return boto3.session.Session(
            profile_name=self.profile_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            region_name=self.region_name,
        )

    def _kwargs(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint_url,
            "use_ssl": self.use_ssl,
            "verify": self.verify,
            "config": Config(retries={"max_attempts": self.max_attempts, "mode": "standard"}),
        }

    def client(self, service: str) -> Any:
        return self._session().client(service, **self._kwargs())


class DynamoDBResource(Boto3ClientResource):
    """A boto3 DynamoDB client and service resource."""

    def get_client(self) -> Any:
        return self.client("dynamodb")

    def get_resource(self) -> Any:
        return self._session().resource("dynamodb", **self._kwargs())

    def get_table(self, name: str) -> Any:
        return self.get_resource().Table(name)


KINESIS_BATCH_RECORDS = 500  # PutRecords limits: 500 records and 5 MB a call, 1 MB a record
KINESIS_BATCH_BYTES = 5 * 1024 * 1024
KINESIS_RECORD_BYTES = 1024 * 1024
KINESIS_ROUNDS = 5


@dataclass
class StreamStats:
    records_in: int = 0
    out: int = 0
    failed: int = 0

    def add(self, other: StreamStats) -> None:
        self.records_in += other.records_in
        self.out += other.out
        self.failed += other.failed

    def as_metadata(self) -> dict[str, int]:
        return {"in": self.records_in, "failed": self.failed, "out": self.out}


def _partition_key(value: str) -> str:
    # Kinesis partition keys are at most 256 characters
    return value if 0 < len(value) <= 256 else hashlib.sha1(value.encode()).hexdigest()


class KinesisResource(Boto3ClientResource):
    """Publishes JSON records to Kinesis data streams with PutRecords."""

    def put_json(
        self, stream: str, records: Iterable[dict[str, Any]], partition_key: Callable[[dict[str, Any]], str]
    ) -> StreamStats:
        """Publish records in calls within PutRecords' limits; records Kinesis throttles are sent
        again (with backoff) a few times, then counted as failed. A record over 1 MB fails alone."""
        client, stats = self.client("kinesis"), StreamStats()
        batch: list[dict[str, Any]] = []
        size = 0
        for record in records:
            stats.records_in += 1
            data = json.dumps(record, separators=(",", ":"), default=str).encode()
            entry = {"Data": data, "PartitionKey": _partition_key(partition_key(record))}
            entry_size = len(data) + len(entry["PartitionKey"].encode())
            if entry_size > KINESIS_RECORD_BYTES:
                stats.failed += 1
                continue
            if len(batch) == KINESIS_BATCH_RECORDS or size + entry_size > KINESIS_BATCH_BYTES:
                self._put(client, stream, batch, stats)
                batch, size = [], 0
            batch.append(entry)
            size += entry_size
        if batch:
            self._put(client, stream, batch, stats)
        return stats

    @staticmethod
    def _put(
        client: Any, stream: str, batch: list[dict[str, Any]], stats: StreamStats, backoff: float = 0.1
    ) -> None:
        pending = batch
        for attempt in range(KINESIS_ROUNDS):
            answer = client.put_records(StreamName=stream, Records=pending)
            results = answer["Records"]
            stats.out += sum(1 for r in results if "ErrorCode" not in r)
            pending = [entry for entry, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            if not pending:
                return
            time.sleep(min(backoff * 2**attempt, 2.0))
        stats.failed += len(pending)


def aws_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"region_name": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
    if settings.embedded:
        kwargs.update(EMBEDDED_CREDENTIALS)
    return kwargs


def build_aws_resources(settings: Settings) -> dict[str, Any]:
    kwargs = aws_kwargs(settings)
    return {
        "s3": S3Resource(**kwargs),
        "dynamodb": DynamoDBResource(**kwargs),
        "kinesis": KinesisResource(**kwargs),
    }
