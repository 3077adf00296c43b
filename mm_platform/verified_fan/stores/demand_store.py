"""The DynamoDB demand table: member registrations, fanlist entries and exact per-campaign counts.

Old images are read with BatchGetItem (consistent reads, chunks of 100 members in parallel);
members whose state did not change cost no write, the others go out as PutItem conditioned on the
item's `uploadOrder` (the file that last set it) being no later than theirs — an older file applied
after a newer one (a replay, a slow intake) changes nothing — and each chunk's count change,
computed from the old images DynamoDB returns and the new ones, is ADDed to the campaign's
`meta:counts`.

Why the counts stay exact: one writer per campaign at a time holds a lease on `meta:counts`
(attribute `writer`), and every ADD is conditioned on still holding it. A writer that dies between a
chunk's write and its ADD leaves the lease behind, so the next writer knows the counts may be off and
recounts the campaign before it writes. A writer that stalled past its lease, was taken over and
then had its puts land finds its ADD refused: it marks the campaign (`recountWanted` on meta:counts)
and the next writer, or `campaign_counts` when nobody holds the lease, recounts.
TransactWriteItems would make member and counter atomic without a lease, but moto deep-copies the
table for every action of a transaction, which makes a bulk load quadratic on the embedded stack
(13 items/s at 5,000 members).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mm_platform.verified_fan.rules.scoring import ZERO, Counts, count_delta, member_state, total
from mm_platform.verified_fan.rules.scoring import recount as recount_states

COUNTS_SK = "meta:counts"
SLACK_COUNTS_SK = "meta:slack:counts"
READ_CHUNK = 100  # BatchGetItem takes at most 100 keys
PUT_THREADS = 8  # conditional puts in flight per chunk
LEASE_SECONDS = 600
UPLOAD_ORDER = "uploadOrder"  # the upload order of the file that last set an item
# on meta:counts: how many count ADDs were refused to a writer that lost its lease after its member
# puts had landed; while above zero the counts miss those puts and the next writer or
# `campaign_counts` recounts
RECOUNT_WANTED = "recountWanted"
BOOKKEEPING = ("PK", "SK", "updatedAt", "file", UPLOAD_ORDER)  # stored, not part of the state

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def campaign_pk(campaign_id: str) -> str:
    return f"campaign:{campaign_id}"


def member_sk(member_key: str) -> str:
    return f"member:{member_key}"


def fan_pk(identifier: str) -> str:
    return f"fan/sid/email:{identifier}"


class CampaignBusyError(RuntimeError):
    """Another writer holds the campaign's lease (a run for the same campaign is writing)."""


class LeaseLostError(RuntimeError):
    """This writer's lease expired and another writer took the campaign over."""


@dataclass
class WriteStats:
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    older: int = 0  # of the unchanged: the item came from a later file (its write refused)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, reason) DynamoDB refused
    delta: Counts = ZERO
    repaired_from: Counts | None = None  # counts before a recount repaired a dead writer's leftovers

    def add(self, other: WriteStats) -> None:
        self.records += other.records
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.older += other.older
        self.failed += other.failed
        self.delta = total([self.delta, other.delta])


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserialize(v) for k, v in raw.items()}


def clean_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """What is stored of a record: no empty values (DynamoDB has no use for them), floats as Decimal."""
    out = {}
    for name, value in fields.items():
        if value is None or value == "" or value == []:
            continue
        out[name] = Decimal(repr(value)) if isinstance(value, float) else value
    return out


def _counts_of(item: dict[str, Any]) -> Counts:
    return Counts(*(int(item.get(name, 0)) for name in Counts._fields))


def _state_fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in BOOKKEEPING}


def _same_state(before: dict[str, Any] | None, fields: dict[str, Any]) -> bool:
    return before is not None and _state_fields(before) == _state_fields(fields)


def _older(fields: dict[str, Any], before: dict[str, Any] | None) -> bool:
    """The stored item came from a later file than these fields."""
    order, stored = fields.get(UPLOAD_ORDER), (before or {}).get(UPLOAD_ORDER)
    return order is not None and stored is not None and stored > order


def _moves_order_on(before: dict[str, Any] | None, fields: dict[str, Any]) -> bool:
    """Writing would record a later file on the item (even with the same state: a file between the
    two, applied afterwards, must not win over this one)."""
    order = fields.get(UPLOAD_ORDER)
    return order is not None and (before or {}).get(UPLOAD_ORDER) != order


@dataclass
class _Lease:
    run_id: str
    renew_after: float


class DemandTable:
    def __init__(self, client: Any, table_name: str, *, workers: int = 4) -> None:
        self.client = client
        self.name = table_name
        self.workers = workers

    # -- table -----------------------------------------------------------------------------------

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

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    def _get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request = {self.name: {"Keys": [self._key(pk, sk) for pk, sk in keys], "ConsistentRead": True}}
        while request:
            response = self.client.batch_get_item(RequestItems=request)
            for raw in response["Responses"].get(self.name, []):
                item = _plain(raw)
                found[(item["PK"], item["SK"])] = item
            request = response.get("UnprocessedKeys") or {}
        return found

    def _put_unless_older(self, item: dict[str, Any]) -> tuple[str, Any]:
        """Put one item unless the stored one came from a later file (its `uploadOrder` is greater):
        ("written", old image or None), ("older", None) when the condition refused it, or
        ("refused", DynamoDB's reason) for an item DynamoDB does not take (too large, say)."""
        kwargs: dict[str, Any] = {}
        if item.get(UPLOAD_ORDER) is not None:
            kwargs = {
                "ConditionExpression": "attribute_not_exists(#order) OR #order <= :order",
                "ExpressionAttributeNames": {"#order": UPLOAD_ORDER},
                "ExpressionAttributeValues": {":order": _serialize(item[UPLOAD_ORDER])},
            }
        try:
            answer = self.client.put_item(
                TableName=self.name,
                Item={k: _serialize(v) for k, v in item.items()},
                ReturnValues="ALL_OLD",
                **kwargs,
            )
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                return "older", None
            if code == "ValidationException":
                return "refused", exc.response["Error"]["Message"]
            raise
        old = answer.get("Attributes")
        return "written", _plain(old) if old else None

    def _upsert_chunk(
        self,
        chunk: Sequence[tuple[str, dict[str, Any]]],
        item_key: Callable[[str], tuple[str, str]],
        now: str,
    ) -> tuple[WriteStats, list[tuple[dict[str, Any] | None, dict[str, Any]]]]:
        """Read the chunk's old images, write what changes the item or moves its upload order on,
        never over an item a later file set (conditional PutItem); returns the stats and the
        (old image, new fields) of every item written, the old image as DynamoDB returned it."""
        stats = WriteStats(records=len(chunk))
        keys = [item_key(key) for key, _ in chunk]
        old = self._get_many(keys)
        to_put: list[tuple[str, dict[str, Any]]] = []
        for (key, raw_fields), (pk, sk) in zip(chunk, keys, strict=True):
            fields = clean_fields(raw_fields)
            before = old.get((pk, sk))
            if _older(fields, before):
                stats.unchanged, stats.older = stats.unchanged + 1, stats.older + 1
            elif _same_state(before, fields) and not _moves_order_on(before, fields):
                stats.unchanged += 1
            else:
                to_put.append((key, {"PK": pk, "SK": sk, **fields, "updatedAt": now}))
        # one conditional PutItem per item (BatchWriteItem takes no condition), several at a time
        with ThreadPoolExecutor(PUT_THREADS, thread_name_prefix="demand-put") as pool:
            outcomes = list(pool.map(self._put_unless_older, [item for _, item in to_put]))
        written = []
        for (key, item), (outcome, detail) in zip(to_put, outcomes, strict=True):
            if outcome == "older":  # a later file's write landed after the read: no failure
                stats.unchanged, stats.older = stats.unchanged + 1, stats.older + 1
            elif outcome == "refused":
                stats.failed.append((key, detail))
            else:
                stats.created += detail is None
                stats.updated += detail is not None and not _same_state(detail, item)
                stats.unchanged += detail is not None and _same_state(detail, item)
                written.append((detail, item))
        return stats, written

    def _write_in_chunks(
        self, records: Sequence[tuple[str, dict[str, Any]]], work: Callable[[Any], WriteStats]
    ) -> WriteStats:
        """`work` on chunks of at most 100 records (one BatchGetItem each), in parallel. Keys must be
        unique: two states of one item in one write would race."""
        if len({key for key, _ in records}) != len(records):
            raise ValueError("a key appears twice in one write; deduplicate the records first")
        chunks = [records[i : i + READ_CHUNK] for i in range(0, len(records), READ_CHUNK)]
        total = WriteStats()
        if self.workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                total.add(work(chunk))
            return total
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="demand-write")
        try:
            for result in pool.map(work, chunks):
                total.add(result)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after a failure, start no further chunk
        return total

    # -- members and counts ----------------------------------------------------------------------

    def write_members(
        self,
        campaign_id: str,
        members: Sequence[tuple[str, dict[str, Any]]],
        *,
        writer: str,
        now: str,
        holder_alive: Callable[[str], bool] | None = None,
    ) -> WriteStats:
        """Store each (member key, fields) of the campaign and keep meta:counts exact. `writer`
        names the run. A `file` field is stored but is no change by itself. Member keys must be unique.
        On an error the lease stays behind, so the next writer recounts before it writes.
        `holder_alive(run)` tells whether the run holding a lease is still at work."""
        lease, repaired_from = self._acquire(campaign_id, writer, holder_alive)
        pk = campaign_pk(campaign_id)

        def write_chunk(chunk: Sequence[tuple[str, dict[str, Any]]]) -> WriteStats:
            stats, written = self._upsert_chunk(chunk, lambda key: (pk, member_sk(key)), now)
            stats.delta = total(
                count_delta(member_state(before), member_state(fields)) for before, fields in written
            )
            try:
                self._add_counts(campaign_id, lease, stats.delta, now)
            except LeaseLostError:
                # this chunk's puts landed but their counts cannot: say so in the table itself
                # (this run's memory is no place for it), the next writer or repair recounts
                self._want_recount(campaign_id)
                raise
            return stats

        stats = self._write_in_chunks(members, write_chunk)
        self._release(campaign_id, lease)
        stats.repaired_from = repaired_from
        return stats

    def _acquire(
        self, campaign_id: str, run_id: str, holder_alive: Callable[[str], bool] | None = None
    ) -> tuple[_Lease, Counts | None]:
        """Take the campaign's lease. It is free when nobody holds it, when it expired, when this
        run (a retry of it) holds it, or when `holder_alive` says its holder's run has ended. Taking
        over a left-behind lease means the counts may lack a dead writer's last ADDs: they are
        recounted. Returns the lease and, after such a repair, the counts as they were before."""
        now = time.time()
        expires = _serialize(Decimal(int(now + LEASE_SECONDS)))
        condition = "attribute_not_exists(writer) OR writer.expires < :now OR writer.run = :run"
        values = {":now": _serialize(Decimal(int(now))), ":run": _serialize(run_id)}
        try:
            answer = self._take_lease(campaign_id, run_id, expires, condition, values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            holder = self.writer(campaign_id) or {}
            if holder and holder_alive is not None and not holder_alive(str(holder.get("run"))):
                # the holder's run has ended: take over exactly that lease (nobody else may meanwhile)
                answer = self._take_lease(
                    campaign_id,
                    run_id,
                    expires,
                    "writer.run = :holder",
                    {":holder": _serialize(holder["run"])},
                )
            else:
                until = time.strftime("%H:%M:%S", time.gmtime(int(holder.get("expires", 0))))
                raise CampaignBusyError(
                    f"campaign {campaign_id} is being written by run {holder.get('run')} "
                    f"(lease until {until} UTC)"
                ) from exc
        lease = _Lease(run_id, now + LEASE_SECONDS / 2)
        old = _plain(answer.get("Attributes", {}))
        wanted = int(old.get(RECOUNT_WANTED, 0))
        if "writer" not in old and not wanted:
            return lease, None
        before = _counts_of(old)
        self._store_recount(campaign_id, lease, wanted)
        return lease, before

    def _take_lease(
        self, campaign_id: str, run_id: str, expires: Any, condition: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return self.client.update_item(
            TableName=self.name,
            Key=self._key(campaign_pk(campaign_id), COUNTS_SK),
            UpdateExpression="SET writer = :writer",
            ConditionExpression=condition,
            ExpressionAttributeValues={
                ":writer": {"M": {"run": _serialize(run_id), "expires": expires}},
                **values,
            },
            ReturnValues="ALL_OLD",
        )

    def _add_counts(self, campaign_id: str, lease: _Lease, delta: Counts, now: str) -> None:
        renew = time.time() > lease.renew_after
        if delta == ZERO and not renew:
            return
        expression = "ADD verified :v, rejected :r, selected :s SET updatedAt = :t"
        values = {
            ":v": {"N": str(delta.verified)},
            ":r": {"N": str(delta.rejected)},
            ":s": {"N": str(delta.selected)},
            ":t": {"S": now},
            ":run": {"S": lease.run_id},
        }
        if renew:
            expression += ", writer.expires = :expires"
            values[":expires"] = {"N": str(int(time.time() + LEASE_SECONDS))}
            lease.renew_after = time.time() + LEASE_SECONDS / 2
        self._update_counts(campaign_id, expression, values)

    def _store_recount(self, campaign_id: str, lease: _Lease, wanted: int = 0) -> Counts:
        """Recount the campaign (under its lease, so nobody writes meanwhile) and store the result;
        the `wanted` recounts seen before counting are settled (one asked for meanwhile stays)."""
        counts = self.recount(campaign_id)
        self._set_counts(campaign_id, lease, counts, wanted)
        return counts

    def _set_counts(self, campaign_id: str, lease: _Lease, counts: Counts, settled: int = 0) -> None:
        self._update_counts(
            campaign_id,
            "SET verified = :v, rejected = :r, selected = :s ADD #wanted :settled",
            {
                ":v": {"N": str(counts.verified)},
                ":r": {"N": str(counts.rejected)},
                ":s": {"N": str(counts.selected)},
                ":settled": {"N": str(-settled)},
                ":run": {"S": lease.run_id},
            },
            {"#wanted": RECOUNT_WANTED},
        )

    def _want_recount(self, campaign_id: str) -> None:
        self.client.update_item(
            TableName=self.name,
            Key=self._key(campaign_pk(campaign_id), COUNTS_SK),
            UpdateExpression="ADD #wanted :one",
            ExpressionAttributeNames={"#wanted": RECOUNT_WANTED},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def recount_wanted(self, campaign_id: str) -> bool:
        """A writer lost its lease after its member puts landed: the counts miss them until a recount."""
        item = self._get(campaign_pk(campaign_id), COUNTS_SK)
        return item is not None and int(item.get(RECOUNT_WANTED, 0)) > 0

    def _update_counts(
        self, campaign_id: str, expression: str, values: dict[str, Any], names: dict[str, str] | None = None
    ) -> None:
        try:
            self.client.update_item(
                TableName=self.name,
                Key=self._key(campaign_pk(campaign_id), COUNTS_SK),
                UpdateExpression=expression,
                ConditionExpression="writer.run = :run",
                ExpressionAttributeValues=values,
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise LeaseLostError(
                    f"lost the lease on campaign {campaign_id}; another writer took over"
                ) from exc
            raise

    def _release(self, campaign_id: str, lease: _Lease) -> None:
        self._update_counts(campaign_id, "REMOVE writer", {":run": {"S": lease.run_id}})

    def writer(self, campaign_id: str) -> dict[str, Any] | None:
        """The lease on the campaign's counts: a writer at work, or one that died (counts dirty)."""
        item = self._get(campaign_pk(campaign_id), COUNTS_SK)
        return None if item is None else item.get("writer")

    def repair_counts(
        self, campaign_id: str, run_id: str, holder_alive: Callable[[str], bool] | None = None
    ) -> tuple[Counts | None, Counts]:
        """Recount the campaign under its lease and store the result (settling any recount a writer
        that lost its lease asked for): (counts before, after)."""
        before = self.counts(campaign_id)
        lease, repaired_from = self._acquire(campaign_id, run_id, holder_alive)
        # taking over a dead writer's lease has stored a recount already: read it, do not count twice
        after = (
            self.counts(campaign_id) if repaired_from is not None else self._store_recount(campaign_id, lease)
        )
        self._release(campaign_id, lease)
        return before, after or ZERO

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        raw = self.client.get_item(TableName=self.name, ConsistentRead=True, Key=self._key(pk, sk)).get(
            "Item"
        )
        return None if raw is None else _plain(raw)

    def counts(self, campaign_id: str, sk: str = COUNTS_SK) -> Counts | None:
        item = self._get(campaign_pk(campaign_id), sk)
        return None if item is None else _counts_of(item)

    def recount(self, campaign_id: str) -> Counts:
        """Count the campaign's member items by the same rule as the writes' count changes."""
        return recount_states(member_state(_plain(raw)) for raw in self._member_items(campaign_id))

    def _member_items(self, campaign_id: str) -> Iterator[dict[str, Any]]:
        """The campaign's member items, verdict and selected only (a Query, `meta:` rows excluded)."""
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
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def member(self, campaign_id: str, member_key: str) -> dict[str, Any] | None:
        return self._get(campaign_pk(campaign_id), member_sk(member_key))

    # -- the counts last told to Slack -----------------------------------------------------------

    def record_reported(self, campaign_id: str, counts: Counts, previous: Counts | None, now: str) -> bool:
        """Store the counts just posted, unless someone else stored other counts since `previous`
        was read (then False: two reporters raced, the other one's post stands)."""
        if previous is None:
            condition, values = "attribute_not_exists(PK)", {}
        else:
            condition = "verified = :pv AND rejected = :pr AND selected = :ps"
            values = {":pv": previous.verified, ":pr": previous.rejected, ":ps": previous.selected}
        try:
            self.client.put_item(
                TableName=self.name,
                Item={
                    k: _serialize(v)
                    for k, v in {
                        "PK": campaign_pk(campaign_id),
                        "SK": SLACK_COUNTS_SK,
                        **counts.as_dict(),
                        "updatedAt": now,
                    }.items()
                },
                ConditionExpression=condition,
                **(
                    {"ExpressionAttributeValues": {k: _serialize(v) for k, v in values.items()}}
                    if values
                    else {}
                ),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # -- fanlist entries -------------------------------------------------------------------------

    def write_fanlist(
        self,
        campaign_id: str,
        entries: Sequence[tuple[str, dict[str, Any]]],
        *,
        now: str,
    ) -> WriteStats:
        """Store each (fan identifier, fields) as `fan/sid/email:{id}` / `campaign:{id}`; unchanged
        entries cost no write. Fanlist entries carry no verdict and do not change meta:counts."""
        sk = campaign_pk(campaign_id)

        def write_chunk(chunk: Sequence[tuple[str, dict[str, Any]]]) -> WriteStats:
            return self._upsert_chunk(chunk, lambda key: (fan_pk(key), sk), now)[0]

        return self._write_in_chunks(entries, write_chunk)

    def fan(self, identifier: str, campaign_id: str) -> dict[str, Any] | None:
        return self._get(fan_pk(identifier), campaign_pk(campaign_id))
