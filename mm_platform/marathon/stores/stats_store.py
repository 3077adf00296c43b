"""DynamoDB access for member stats: table set-up, batched writes and reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

KEY = "coderId"


def ensure_table(client: Any, name: str) -> bool:
    """Create the member stats table (on-demand billing) if it does not exist; True if created."""
    try:
        client.describe_table(TableName=name)
        return False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return True


def write_items(table: Any, items: Iterable[dict[str, Any]]) -> int:
    """BatchWriteItem in batches of 25 (boto3's batch writer resends unprocessed items)."""
    count = 0
    with table.batch_writer(overwrite_by_pkeys=[KEY]) as batch:
        for item in items:
            batch.put_item(Item=item)
            count += 1
    return count


def read_items(resource: Any, name: str, coder_ids: Sequence[int]) -> list[dict[str, Any]]:
    """BatchGetItem in batches of 100, retrying unprocessed keys."""
    items: list[dict[str, Any]] = []
    for start in range(0, len(coder_ids), 100):
        request = {name: {"Keys": [{KEY: int(c)} for c in coder_ids[start : start + 100]]}}
        while request:
            response = resource.batch_get_item(RequestItems=request)
            items += response["Responses"].get(name, [])
            request = response.get("UnprocessedKeys") or {}
    return sorted(items, key=lambda i: int(i[KEY]))
