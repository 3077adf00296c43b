"""DynamoDB access for the member API's tables (MemberStats, MemberHistoryStats): set-up, batched
reads and read-merge-write with a condition, because other writers own other parts of an item."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

KEY = "userId"
ATTEMPTS = 5  # reads and merges of one item before a writer that keeps changing it fails the run
WRITERS = 8  # PutItem calls in flight (each carries its own condition, so no BatchWriteItem)

_serialize, _deserialize = TypeSerializer().serialize, TypeDeserializer().deserialize

# existing item (None: no item) -> the item to write; raises to leave the member as is
Merge = Callable[[Mapping[str, Any] | None], dict[str, Any]]


class ItemKeptChanging(RuntimeError):
    pass


@dataclass
class MergeOutcome:
    written: int = 0
    refused: dict[int, str] = field(default_factory=dict)  # user id -> why its item was left as is
    retried: int = 0  # writes repeated because another writer changed the item meanwhile


def ensure_table(client: Any, name: str) -> bool:
    """Create a member table (hash key userId, on-demand billing) if missing; True if created."""
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


def _plain_item(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserialize(v) for k, v in raw.items()}


def read_items(client: Any, name: str, user_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """BatchGetItem (strongly consistent) in batches of 100, retrying unprocessed keys."""
    items: dict[int, dict[str, Any]] = {}
    for start in range(0, len(user_ids), 100):
        keys = [{KEY: {"N": str(int(u))}} for u in user_ids[start : start + 100]]
        request: dict[str, Any] = {name: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            for raw in response["Responses"].get(name, []):
                item = _plain_item(raw)
                items[int(item[KEY])] = item
            request = response.get("UnprocessedKeys") or {}
    return items


def _read_one(client: Any, name: str, user_id: int) -> dict[str, Any] | None:
    raw = client.get_item(TableName=name, Key={KEY: {"N": str(user_id)}}, ConsistentRead=True).get("Item")
    return _plain_item(raw) if raw else None


def _put_if_unchanged(
    client: Any, name: str, item: Mapping[str, Any], seen: Mapping[str, Any] | None
) -> bool:
    """PutItem only while the stored item is the one the merge read (by its updatedAt); False when
    another writer got there first."""
    if seen is None:
        condition, values = "attribute_not_exists(userId)", {}
    elif "updatedAt" in seen:
        condition, values = "updatedAt = :seen", {":seen": _serialize(seen["updatedAt"])}
    else:
        condition, values = "attribute_exists(userId) AND attribute_not_exists(updatedAt)", {}
    request: dict[str, Any] = {
        "TableName": name,
        "Item": {k: _serialize(v) for k, v in item.items()},
        "ConditionExpression": condition,
    }
    if values:
        request["ExpressionAttributeValues"] = values
    try:
        client.put_item(**request)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def merge_items(
    client: Any, name: str, merges: Mapping[int, Merge], refusals: tuple[type[Exception], ...] = ()
) -> MergeOutcome:
    """For every user id: read its item, merge, write it back unless another writer changed it
    meanwhile (then read and merge again). A merge raising one of `refusals` leaves that item as is."""
    outcome = MergeOutcome()
    existing = read_items(client, name, sorted(merges))

    def write(user_id: int) -> tuple[int, str | None, int]:
        seen = existing.get(user_id)
        for attempt in range(ATTEMPTS):
            if attempt:
                seen = _read_one(client, name, user_id)
            try:
                item = merges[user_id](seen)
            except refusals as exc:
                return user_id, str(exc), attempt
            if _put_if_unchanged(client, name, item, seen):
                return user_id, None, attempt
        raise ItemKeptChanging(f"item {user_id} of {name} changed under each of {ATTEMPTS} merges")

    with ThreadPoolExecutor(WRITERS) as pool:
        for user_id, refused, retries in pool.map(write, sorted(merges)):
            outcome.retried += retries
            if refused is None:
                outcome.written += 1
            else:
                outcome.refused[user_id] = refused
    return outcome
