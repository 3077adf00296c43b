"""The S3 sensor against moto's S3 over HTTP: each object version once, re-uploads again."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import (
    Definitions,
    DynamicPartitionsDefinition,
    asset,
    build_sensor_context,
    instance_for_test,
)
from dagster_aws.s3 import S3Resource

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.devstack import free_port
from mm_platform.core.inbox import InboxResource, Status, Verdict
from mm_platform.core.jobs import ChainJob
from mm_platform.core.s3_sensor import OBJECT_KEY_TAG, S3Object, make_s3_sensor

files = DynamicPartitionsDefinition(name="test_files")


@asset(partitions_def=files)
def landed_file() -> None:
    """Stands in for the asset a file runs."""


def route(obj: S3Object) -> Verdict:
    if obj.size == 0:
        return Verdict.invalid("the file is empty", entity_key=obj.key)
    return Verdict.run(
        obj.key.split("/")[-1].split(".")[0], event_type="file.landed", entity_key=obj.key, dedup_key=obj.ref
    )


@dataclass
class Bucket:
    name: str
    client: object
    defs: Definitions
    instance: object
    cursor: str | None = None

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def tick(self, defs: Definitions | None = None):
        defs = defs or self.defs
        sensor = defs.get_repository_def().get_sensor_def("files_sensor")
        result = sensor.evaluate_tick(
            build_sensor_context(
                instance=self.instance,
                instance_ref=self.instance.get_ref(),
                cursor=self.cursor,
                resources=defs.resources,
                definitions=defs,
            )
        )
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        self.cursor = result.cursor
        return result


def definitions(bucket: str, endpoint: str, db: str) -> Definitions:
    job = ChainJob("files_job", [landed_file], files, "test")
    sensor = make_s3_sensor(
        name="files_sensor",
        bucket=bucket,
        prefixes=["scrubbed/", "fanlist/scored/"],
        job=job,
        router_factory=lambda _context: route,
        minimum_interval_seconds=5,
        description="test",
        max_objects=2,
    )
    return Definitions(
        assets=[landed_file],
        jobs=[job.definition],
        sensors=[sensor],
        resources={
            "s3": S3Resource(endpoint_url=endpoint, region_name="us-east-1", **EMBEDDED_CREDENTIALS),
            "inbox": InboxResource(database_url=db),
        },
    )


@pytest.fixture
def bucket(moto_endpoint: str, tmp_path: Path) -> Iterator[Bucket]:
    name = f"scoring-{uuid.uuid4().hex[:8]}"
    defs = definitions(name, moto_endpoint, f"sqlite:///{tmp_path}/platform.db")
    client = defs.resources["s3"].get_client()
    client.create_bucket(Bucket=name)
    with instance_for_test() as instance:
        yield Bucket(name, client, defs, instance)


@pytest.fixture
def db_bucket(moto_endpoint: str, db_url: str) -> Iterator[Bucket]:
    """A bucket whose sensor keeps its inbox on SQLite in one run and PostgreSQL in the other."""
    name = f"scoring-{uuid.uuid4().hex[:8]}"
    defs = definitions(name, moto_endpoint, db_url)
    client = defs.resources["s3"].get_client()
    client.create_bucket(Bucket=name)
    with instance_for_test() as instance:
        yield Bucket(name, client, defs, instance)


def test_a_key_of_s3s_maximum_length_runs(db_bucket: Bucket) -> None:
    """S3 keys are up to 1,024 bytes; the inbox keeps the key and its reference (key@etag@time)."""
    key = "scrubbed/" + "d" * (1024 - len("scrubbed/") - len("/long.csv")) + "/long.csv"
    assert len(key.encode()) == 1024
    db_bucket.put(key, b"campaign_id\nc1\n")
    result = db_bucket.tick()  # before the fix: value too long for type character varying(200)
    assert [r.tags[OBJECT_KEY_TAG] for r in result.run_requests] == [key]
    [event] = db_bucket.defs.resources["inbox"].get_inbox().select(topic=f"s3://{db_bucket.name}")
    assert (event.status, event.entity_key) == (Status.NEW, key)
    assert db_bucket.tick().run_requests == []  # recognised when listed again


def test_new_files_run_once_and_re_uploads_run_again(bucket: Bucket) -> None:
    bucket.put("scrubbed/a.csv", b"campaign_id\nc1\n")
    bucket.put("fanlist/scored/b.csv.gz", b"x")
    bucket.put("other/c.csv", b"not watched")
    first = bucket.tick()
    assert sorted(r.partition_key for r in first.run_requests) == ["a", "b"]
    assert {r.tags[OBJECT_KEY_TAG] for r in first.run_requests} == {
        "scrubbed/a.csv",
        "fanlist/scored/b.csv.gz",
    }
    assert bucket.instance.get_dynamic_partitions("test_files") == ["a", "b"]
    assert bucket.tick().run_requests == []  # listed again inside the overlap: nothing twice

    time.sleep(1.1)  # S3 timestamps have one-second resolution
    bucket.put("scrubbed/a.csv", b"campaign_id\nc1\nc2\n")  # new content
    bucket.put("fanlist/scored/b.csv.gz", b"x")  # the same bytes again
    again = bucket.tick()
    assert sorted(r.partition_key for r in again.run_requests) == ["a", "b"]
    assert len({r.run_key for r in first.run_requests + again.run_requests}) == 4


def test_objects_are_tracked_in_the_inbox_with_status_and_reason(bucket: Bucket) -> None:
    bucket.put("scrubbed/empty.csv", b"")
    bucket.put("scrubbed/good.csv", b"campaign_id\nc1\n")
    result = bucket.tick()
    assert [r.partition_key for r in result.run_requests] == ["good"]
    inbox = bucket.defs.resources["inbox"].get_inbox()
    events = {e.source_ref.split("@")[0]: e for e in inbox.select(topic=f"s3://{bucket.name}")}
    assert (events["scrubbed/empty.csv"].status, events["scrubbed/empty.csv"].reason) == (
        Status.INVALID,
        "the file is empty",
    )
    assert events["scrubbed/good.csv"].status is Status.NEW
    assert events["scrubbed/good.csv"].payload["size"] == len(b"campaign_id\nc1\n")


def test_a_bounded_batch_leaves_the_rest_for_the_next_tick(bucket: Bucket) -> None:
    for name in ("f1", "f2", "f3", "f4", "f5"):
        bucket.put(f"scrubbed/{name}.csv", b"campaign_id\nc1\n")
    seen = []
    for _ in range(4):
        seen += [r.partition_key for r in bucket.tick().run_requests]
    assert sorted(seen) == ["f1", "f2", "f3", "f4", "f5"]  # two per tick, none lost, none twice


def test_an_object_stamped_before_the_cursor_is_still_taken(bucket: Bucket) -> None:
    """S3 stamps LastModified when an upload starts, so a long multipart upload lists after newer
    objects, with a time before the cursor. moto cannot backdate an object: the cursor is moved an
    hour ahead instead, which puts the next upload an hour "in the past" of the cursor."""
    bucket.put("scrubbed/first.csv", b"campaign_id\nc1\n")
    assert [r.partition_key for r in bucket.tick().run_requests] == ["first"]
    bucket.cursor = json.dumps(
        {"since": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()}
    )
    bucket.put("scrubbed/late.csv", b"campaign_id\nc1\n")
    late = bucket.tick()  # before the fix: skipped, it is older than the cursor minus the overlap
    assert [r.partition_key for r in late.run_requests] == ["late"]
    assert bucket.tick().run_requests == []  # and only once


def test_storage_down_fails_the_tick_and_keeps_the_cursor(bucket: Bucket, tmp_path: Path) -> None:
    bucket.put("scrubbed/a.csv", b"campaign_id\nc1\n")
    down = definitions(bucket.name, f"http://127.0.0.1:{free_port()}", f"sqlite:///{tmp_path}/platform.db")
    with pytest.raises(Exception, match=f"listing s3://{bucket.name} failed"):
        bucket.tick(down)
    assert bucket.cursor is None
    assert [r.partition_key for r in bucket.tick().run_requests] == ["a"]
