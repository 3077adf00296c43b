"""The DynamoDB demand table: member registrations and exact per-campaign counts.

Each chunk of members is written in one TransactWriteItems call together with the counter change it
causes on `meta:counts`, so a member's state and the counts can never disagree, whatever fails or
repeats. The old images are read first (BatchGetItem); every write is conditioned on the item still
being what was read (its `version`), and a chunk that lost a race is read and written again. Members
whose state did not change cost no write, so a duplicated file changes nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mm_platform.verified_fan.scoring import MemberState, count_delta

COUNTS_SK = "meta:counts"
SLACK_COUNTS_SK = "meta:slack:counts"
# TransactWriteItems takes at most 100 actions: 48 members and, at worst, 48 campaign counters
CHUNK = 48
MAX_ATTEMPTS = 8
ADD_COUNTS = "ADD verified :v, rejected :r, selected :s SET updatedAt = :t"

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def campaign_pk(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def member_sk(member_key: str) -> str:
    return f"member:{member_key}"


@dataclass(frozen=True)
class Registration:
    """A member's state in a campaign, as the scored file says it."""

    campaign_id: str
    member_key: str
    score: Decimal
    verdict: str | None
    selected: bool
    attributes: tuple[tuple[str, Any], ...] = ()  # other fields to store (email, events, rank0 ...)

    def item_fields(self) -> dict[str, Any]:
        fields = {
            "score": self.score,
            "verdict": self.verdict,
            "selected": self.selected,
            **dict(self.attributes),
        }
        return {k: v for k, v in fields.items() if v is not None and v != ""}


@dataclass
class UpsertStats:
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retried_chunks: int = 0
    deltas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))

    def as_metadata(self) -> dict[str, int]:
        return {
            "in": self.records,
            "success": self.created + self.updated + self.unchanged,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "retried_chunks": self.retried_chunks,
        }


def _state(item: dict[str, Any] | None) -> MemberState | None:
    if item is None:
        return None
    return MemberState(item.get("verdict") or None, bool(item.get("selected", False)))


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("PK", "SK", "version", "updatedAt")}


class DemandTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.name = table_name

    def ensure(self) -> bool:
        """Create the table (PK/SK strings, on-demand) when missing; True if created."""
        try:
            self.client.describe_table(TableName=self.name)
            return False
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        self.client.create_table(
            TableName=self.name,
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        self.client.get_waiter("table_exists").wait(
            TableName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        return True

    def _get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request = {
            self.name: {
                "Keys": [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in keys],
                "ConsistentRead": True,
            }
        }
        while request:
            response = self.client.batch_get_item(RequestItems=request)
            for raw in response["Responses"].get(self.name, []):
                item = {k: _deserialize(v) for k, v in raw.items()}
                found[(item["PK"], item["SK"])] = item
            request = response.get("UnprocessedKeys") or {}
        return found

    def upsert(self, registrations: Iterable[Registration], now: str) -> UpsertStats:
        """Write the members' states and their count changes; returns what changed."""
        stats = UpsertStats()
        chunk: list[Registration] = []
        for registration in registrations:
            stats.records += 1
            chunk.append(registration)
            if len(chunk) == CHUNK:
                self._write_chunk(chunk, now, stats)
                chunk = []
        if chunk:
            self._write_chunk(chunk, now, stats)
        return stats

    def _write_chunk(self, chunk: list[Registration], now: str, stats: UpsertStats) -> None:
        if len({(r.campaign_id, r.member_key) for r in chunk}) != len(chunk):
            raise ValueError("a member appears twice in one write; deduplicate the file first")
        for attempt in range(MAX_ATTEMPTS):
            keys = [(campaign_pk(r.campaign_id), member_sk(r.member_key)) for r in chunk]
            old = self._get_many(keys)
            actions, deltas = [], defaultdict(lambda: [0, 0, 0])
            created = updated = unchanged = 0
            for r, key in zip(chunk, keys, strict=True):
                before = old.get(key)
                new_fields = r.item_fields()
                if before is not None and _plain(before) == new_fields:
                    unchanged += 1
                    continue
                for i, d in enumerate(count_delta(_state(before), MemberState(r.verdict, r.selected))):
                    deltas[r.campaign_id][i] += d
                item = {
                    "PK": key[0],
                    "SK": key[1],
                    **new_fields,
                    "updatedAt": now,
                    "version": int(before.get("version", 0)) + 1 if before else 1,
                }
                if before is None:
                    condition = {"ConditionExpression": "attribute_not_exists(PK)"}
                    created += 1
                else:
                    condition = {
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {":v": _serialize(before.get("version", 0))},
                    }
                    if "version" not in before:
                        condition = {"ConditionExpression": "attribute_not_exists(version)"}
                    updated += 1
                actions.append(
                    {
                        "Put": {
                            "TableName": self.name,
                            "Item": {k: _serialize(v) for k, v in item.items()},
                            **condition,
                        }
                    }
                )
            for campaign_id, (verified, rejected, selected) in deltas.items():
                if (verified, rejected, selected) == (0, 0, 0):
                    continue
                actions.append(
                    {
                        "Update": {
                            "TableName": self.name,
                            "Key": {"PK": {"S": campaign_pk(campaign_id)}, "SK": {"S": COUNTS_SK}},
                            "UpdateExpression": ADD_COUNTS,
                            "ExpressionAttributeValues": {
                                ":v": {"N": str(verified)},
                                ":r": {"N": str(rejected)},
                                ":s": {"N": str(selected)},
                                ":t": {"S": now},
                            },
                        }
                    }
                )
            try:
                if actions:  # at most CHUNK members + CHUNK counters: within the 100-action limit
                    self.client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if exc.response["Error"]["Code"] in (
                    "TransactionCanceledException",
                    "ConditionalCheckFailedException",
                ):
                    stats.retried_chunks += 1
                    time.sleep(0.05 * (attempt + 1))
                    continue  # someone else wrote one of these members meanwhile: read again
                raise
            stats.created += created
            stats.updated += updated
            stats.unchanged += unchanged
            for campaign_id, values in deltas.items():
                for i, d in enumerate(values):
                    stats.deltas[campaign_id][i] += d
            return
        raise RuntimeError(f"{self.name}: a chunk of {len(chunk)} members kept changing under us; gave up")

    def counts(self, campaign_id: str, sk: str = COUNTS_SK) -> tuple[int, int, int] | None:
        raw = self.client.get_item(
            TableName=self.name,
            ConsistentRead=True,
            Key={"PK": {"S": campaign_pk(campaign_id)}, "SK": {"S": sk}},
        ).get("Item")
        if raw is None:
            return None
        item = {k: _deserialize(v) for k, v in raw.items()}
        return (int(item.get("verified", 0)), int(item.get("rejected", 0)), int(item.get("selected", 0)))

    def recount(self, campaign_id: str) -> tuple[int, int, int]:
        """Count the campaign's member items (a Query over its partition)."""
        verified = rejected = selected = 0
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :member)",
            "ExpressionAttributeValues": {
                ":pk": {"S": campaign_pk(campaign_id)},
                ":member": {"S": "member:"},
            },
            "ProjectionExpression": "verdict, selected",
            "ConsistentRead": True,
        }
        while True:
            page = self.client.query(**kwargs)
            for raw in page.get("Items", []):
                verdict = raw.get("verdict", {}).get("S")
                verified += verdict == "verified"
                rejected += verdict == "rejected"
                selected += bool(raw.get("selected", {}).get("BOOL", False))
            if "LastEvaluatedKey" not in page:
                return verified, rejected, selected
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
