"""The AWS resources against moto's server over HTTP."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from mm_platform.core.aws import KinesisResource, StreamStats, build_aws_resources
from mm_platform.core.settings import Settings


def test_s3_and_dynamodb_resources_reach_the_endpoint(moto_endpoint: str, tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"MM_PLATFORM_STATE_DIR": str(tmp_path), "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint}
    )
    resources = build_aws_resources(settings)

    s3 = resources["s3"].get_client()
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="scrubbed/a.csv", Body=b"x,y\n1,2\n")
    assert s3.get_object(Bucket=bucket, Key="scrubbed/a.csv")["Body"].read() == b"x,y\n1,2\n"

    dynamodb = resources["dynamodb"]
    name = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb.get_client().create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table = dynamodb.get_table(name)
    table.put_item(Item={"PK": "campaign:1", "SK": "meta:counts", "verified": 3})
    old = table.update_item(
        Key={"PK": "campaign:1", "SK": "meta:counts"},
        UpdateExpression="SET verified = :v",
        ExpressionAttributeValues={":v": 4},
        ReturnValues="ALL_OLD",
    )["Attributes"]
    assert old["verified"] == 3
    assert table.get_item(Key={"PK": "campaign:1", "SK": "meta:counts"})["Item"]["verified"] == 4


def read_stream(client, stream: str) -> list[dict]:
    shard = client.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records: list[dict] = []
    while True:
        page = client.get_records(ShardIterator=iterator, Limit=10_000)
        records += [json.loads(r["Data"]) for r in page["Records"]]
        if not page["Records"]:
            return records
        iterator = page["NextShardIterator"]


def test_kinesis_records_are_published_in_batches_and_an_oversized_one_fails_alone(
    moto_endpoint: str, tmp_path: Path
) -> None:
    settings = Settings.from_env(
        {"MM_PLATFORM_STATE_DIR": str(tmp_path), "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint}
    )
    kinesis = build_aws_resources(settings)["kinesis"]
    client = kinesis.client("kinesis")
    stream = f"scores-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=stream, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    records = [{"memberId": f"m{i}", "score": i / 10} for i in range(1234)]
    records.insert(700, {"memberId": "huge", "blob": "x" * (1024 * 1024)})
    stats = kinesis.put_json(stream, records, partition_key=lambda r: r["memberId"])
    assert stats.as_metadata() == {"in": 1235, "failed": 1, "out": 1234}
    published = read_stream(client, stream)
    assert [r["memberId"] for r in published] == [f"m{i}" for i in range(1234)]


class ThrottlingKinesis:
    """Kinesis answering ProvisionedThroughputExceeded for the first record of every call."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:
        self.calls.append(len(Records))
        results = [{"SequenceNumber": "1", "ShardId": "s"} for _ in Records]
        results[0] = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
        return {"FailedRecordCount": 1, "Records": results}


def test_throttled_kinesis_records_are_sent_again_then_counted_as_failed() -> None:
    fake, stats = ThrottlingKinesis(), StreamStats()
    KinesisResource._put(
        fake, "s", [{"Data": b"{}", "PartitionKey": str(i)} for i in range(4)], stats, backoff=0
    )
    assert fake.calls == [4, 1, 1, 1, 1]  # the throttled record again, each round
    assert (stats.out, stats.failed) == (3, 1)
