"""S3 -> inbox -> run requests: files landing in a bucket become runs, each object version once.

Each tick lists the prefixes, keeps what changed since the cursor's time minus a generous lookback
(see LOOKBACK), records every object in the inbox under the reference
`key@etag@last-modified` — a re-upload, even of identical bytes, is a new reference and is processed
again — and requests one run per newly recorded object whose verdict is NEW. `dagster_aws`'s
`get_objects` misses re-uploads of the same key, hence this sensor.
"""

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from mm_platform.core.inbox import EventInbox, NewObject, Status, Verdict
from mm_platform.core.jobs import ChainJob
from mm_platform.core.sensors import INBOX_IDS_TAG, SOURCE_TAG, RouterContext

# S3 stamps LastModified when an upload starts: a long multipart upload is listed after newer objects
# with an older time, so a short overlap behind the cursor would skip it. S3 cannot filter a listing by
# time (every key under the prefix is listed anyway); the window only bounds how many listed objects
# are looked up in the inbox, which knows each reference and takes nothing twice. A day covers any
# upload that completes within a day; None looks up every object under the prefixes.
LOOKBACK = dt.timedelta(hours=24)
OBJECT_KEY_TAG = "mm_platform/object_key"


class StorageUnavailableError(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    etag: str
    size: int
    last_modified: str  # ISO 8601, UTC

    @property
    def ref(self) -> str:
        return f"{self.key}@{self.etag}@{self.last_modified}"


ObjectRouter = Callable[[S3Object], Verdict]


def list_changed_objects(
    client: Any,
    bucket: str,
    prefixes: Sequence[str],
    since: dt.datetime | None,
    lookback: dt.timedelta | None = LOOKBACK,
) -> list[S3Object]:
    """Objects under `prefixes` modified at or after `since` minus `lookback`, oldest first."""
    threshold = None if since is None or lookback is None else since - lookback
    found = []
    try:
        paginator = client.get_paginator("list_objects_v2")
        for prefix in prefixes:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for entry in page.get("Contents", []):
                    modified = entry["LastModified"].astimezone(dt.timezone.utc)
                    if threshold is None or modified >= threshold:
                        found.append(
                            S3Object(
                                bucket,
                                entry["Key"],
                                entry["ETag"].strip('"'),
                                int(entry["Size"]),
                                modified.isoformat(),
                            )
                        )
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailableError(f"listing s3://{bucket} failed: {exc}") from exc
    return sorted(found, key=lambda o: (o.last_modified, o.key))


def make_s3_sensor(
    *,
    name: str,
    bucket: str,
    prefixes: Sequence[str],
    job: ChainJob | JobDefinition,
    router_factory: Callable[[RouterContext], ObjectRouter],
    minimum_interval_seconds: int,
    description: str,
    max_objects: int = 200,
    lookback: dt.timedelta | None = LOOKBACK,
) -> SensorDefinition:
    """One run per new object version whose verdict is NEW: of the chain job for its partition key,
    or of the unpartitioned job."""
    topic = f"s3://{bucket}"
    chain = job if isinstance(job, ChainJob) else None

    @sensor(
        name=name,
        job=chain.definition if chain else job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        required_resource_keys={"s3", "inbox"},
        description=description,
    )
    def _s3_sensor(context: SensorEvaluationContext) -> SensorResult:
        since_text = json.loads(context.cursor)["since"] if context.cursor else None
        since = dt.datetime.fromisoformat(since_text) if since_text else None
        # dagster-aws S3Resource hands sensors its boto3 client
        objects = list_changed_objects(context.resources.s3, bucket, prefixes, since, lookback)
        inbox: EventInbox = context.resources.inbox.get_inbox()
        router = router_factory(context)
        # objects listed again within the lookback are already in the inbox: skip them before bounding
        known = inbox.known_refs(topic, [o.ref for o in objects])
        unseen = [o for o in objects if o.ref not in known]
        batch = unseen[:max_objects]
        recorded = inbox.record_objects([NewObject(topic, o.ref, asdict(o), router(o)) for o in batch])
        requests, new_keys = [], set()
        for (event, inserted), obj in zip(recorded, batch, strict=True):
            if not inserted or event.status is not Status.NEW:
                continue
            tags = {INBOX_IDS_TAG: str(event.id), SOURCE_TAG: name, OBJECT_KEY_TAG: obj.key}
            if chain is None:
                requests.append(RunRequest(run_key=obj.ref, tags=tags))
                continue
            if not event.partition_key:
                continue
            requests.append(chain.run_request(run_key=obj.ref, partition_key=event.partition_key, tags=tags))
            if not context.instance.has_dynamic_partition(chain.partitions_def.name, event.partition_key):
                new_keys.add(event.partition_key)
        # carry on from the last object taken (a bounded batch leaves the rest for the next tick)
        # (never backwards: a late object taken now is older than the cursor)
        taken = batch[-1:] or objects[-1:]
        times = [t for t in (since_text, *(o.last_modified for o in taken)) if t]
        newest = max(times, key=dt.datetime.fromisoformat, default=None)
        fresh = sum(1 for _, inserted in recorded if inserted)
        summary = f"listed {len(objects)} object(s): {fresh} new, {len(requests)} run request(s)"
        context.log.info(summary)
        return SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[chain.partitions_def.build_add_request(sorted(new_keys))]
            if chain is not None and new_keys
            else [],
            cursor=json.dumps({"since": newest}),
            skip_reason=None if requests else summary,
        )

    return _s3_sensor
