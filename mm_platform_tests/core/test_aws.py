"""The AWS resources against moto's server over HTTP."""

from __future__ import annotations

import uuid
from pathlib import Path

from mm_platform.core.aws import build_aws_resources
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
