"""Member registrations and exact counts in DynamoDB (moto's server over HTTP)."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

import boto3
import pytest

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.verified_fan.demand_store import DemandTable, Registration, campaign_pk, member_sk

NOW = "2026-11-23T12:00:00"


@pytest.fixture
def demand(moto_endpoint: str) -> DemandTable:
    client = boto3.client(
        "dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1", **EMBEDDED_CREDENTIALS
    )
    table = DemandTable(client, f"demand-{uuid.uuid4().hex[:8]}")
    assert table.ensure()
    assert not table.ensure()
    return table


def reg(
    member: str, verdict: str | None, selected: bool = False, score: str = "0.5", campaign: str = "c1"
) -> Registration:
    return Registration(campaign, member, Decimal(score), verdict, selected, (("email", f"{member}@x.org"),))


def test_first_file_creates_members_and_counts(demand: DemandTable) -> None:
    stats = demand.upsert(
        [
            reg("m1", "verified", True),
            reg("m2", "rejected"),
            reg("m3", "verified"),
            reg("m4", "verified", campaign="c2"),
        ],
        NOW,
    )
    assert stats.as_metadata() == {
        "in": 4,
        "success": 4,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "retried_chunks": 0,
    }
    assert demand.counts("c1") == (2, 1, 1) == demand.recount("c1")
    assert demand.counts("c2") == (1, 0, 0) == demand.recount("c2")


def test_the_same_file_again_changes_nothing(demand: DemandTable) -> None:
    rows = [reg(f"m{i}", "verified" if i % 3 else "rejected", i % 2 == 0) for i in range(120)]
    demand.upsert(rows, NOW)
    counts = demand.counts("c1")
    again = demand.upsert(rows, "2026-11-23T13:00:00")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 120)
    assert demand.counts("c1") == counts == demand.recount("c1")


def test_flips_and_deselections_keep_counts_exact(demand: DemandTable) -> None:
    demand.upsert([reg("m1", "verified", True), reg("m2", "rejected", True), reg("m3", "verified")], NOW)
    stats = demand.upsert(
        [reg("m1", "rejected", False), reg("m2", "verified", True), reg("m4", "verified", True)], NOW
    )
    assert (stats.created, stats.updated) == (1, 2)
    assert demand.counts("c1") == (3, 1, 2) == demand.recount("c1")


def test_any_sequence_of_files_keeps_counts_equal_to_a_recount(demand: DemandTable) -> None:
    rnd = random.Random(11)
    for _ in range(6):
        rows = {}
        for _ in range(rnd.randint(1, 90)):
            member = f"m{rnd.randint(0, 60)}"
            rows[member] = reg(
                member,
                rnd.choice(["verified", "rejected"]),
                rnd.random() < 0.3,
                campaign=rnd.choice(["c1", "c2"]),
            )
        demand.upsert(
            [r for r in rows.values() if r.campaign_id == "c1"]
            + [r for r in rows.values() if r.campaign_id == "c2"],
            NOW,
        )
        for campaign in ("c1", "c2"):
            assert (demand.counts(campaign) or (0, 0, 0)) == demand.recount(campaign)


class RacingClient:
    """The real client, but someone else updates member m1 just before our first transaction."""

    def __init__(self, client, table: str) -> None:
        self.client, self.table, self.raced = client, table, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def transact_write_items(self, **kwargs):
        if not self.raced:
            self.raced = True
            self.client.put_item(
                TableName=self.table,
                Item={
                    "PK": {"S": campaign_pk("c1")},
                    "SK": {"S": member_sk("m1")},
                    "verdict": {"S": "rejected"},
                    "selected": {"BOOL": True},
                    "score": {"N": "0.1"},
                    "version": {"N": "7"},
                },
            )
            self.client.update_item(
                TableName=self.table,
                Key={"PK": {"S": "campaign:c1"}, "SK": {"S": "meta:counts"}},
                UpdateExpression="ADD rejected :one, selected :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        return self.client.transact_write_items(**kwargs)


def test_a_concurrent_write_makes_the_chunk_read_and_write_again(demand: DemandTable) -> None:
    racing = DemandTable(RacingClient(demand.client, demand.name), demand.name)
    stats = racing.upsert([reg("m1", "verified"), reg("m2", "verified")], NOW)
    assert stats.retried_chunks == 1
    assert demand.counts("c1") == (2, 0, 0) == demand.recount("c1")


def test_a_member_twice_in_one_write_is_refused(demand: DemandTable) -> None:
    with pytest.raises(ValueError, match="deduplicate"):
        demand.upsert([reg("m1", "verified"), reg("m1", "rejected")], NOW)
