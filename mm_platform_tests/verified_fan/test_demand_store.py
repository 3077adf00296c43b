"""Member registrations, fanlist entries and exact counts in DynamoDB (moto's server over HTTP)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import boto3
import pytest

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.verified_fan.rules.scoring import Counts
from mm_platform.verified_fan.stores.demand_store import CampaignBusyError, DemandTable, LeaseLostError

NOW = "2026-11-23T12:00:00"


@pytest.fixture
def demand(moto_endpoint: str) -> DemandTable:
    client = boto3.client(
        "dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1", **EMBEDDED_CREDENTIALS
    )
    table = DemandTable(client, f"demand-{uuid.uuid4().hex[:8]}", workers=4)
    assert table.ensure()
    assert not table.ensure()
    return table


def member(key: str, verdict: str, selected: bool = False, score: float = 0.5) -> tuple[str, dict[str, Any]]:
    return key, {"score": score, "verdict": verdict, "selected": selected, "email": f"{key}@x.org"}


def write(demand: DemandTable, campaign: str, members: list, run: str = "run-1", **kwargs: Any):
    return demand.write_members(campaign, members, writer=run, now=NOW, **kwargs)


def test_first_file_creates_members_and_counts(demand: DemandTable) -> None:
    stats = write(
        demand, "c1", [member("m1", "verified", True), member("m2", "rejected"), member("m3", "verified")]
    )
    write(demand, "c2", [member("m4", "verified")])
    assert (stats.records, stats.created, stats.updated, stats.unchanged, stats.failed) == (3, 3, 0, 0, [])
    assert stats.delta == (2, 1, 1)
    assert demand.counts("c1") == Counts(2, 1, 1) == demand.recount("c1")
    assert demand.counts("c2") == Counts(1, 0, 0) == demand.recount("c2")
    stored = demand.member("c1", "m1")
    assert (stored["verdict"], stored["selected"], stored["email"], stored["PK"], stored["SK"]) == (
        "verified",
        True,
        "m1@x.org",
        "campaign:c1",
        "member:m1",
    )
    assert demand.writer("c1") is None  # the lease is given back


def test_the_same_file_again_writes_nothing_and_changes_no_count(demand: DemandTable) -> None:
    rows = [member(f"m{i}", "verified" if i % 3 else "rejected", i % 2 == 0) for i in range(250)]
    write(demand, "c1", rows)
    counts = demand.counts("c1")
    again = demand.write_members(
        "c1",
        [(key, fields | {"file": "again.csv"}) for key, fields in rows],
        writer="run-2",
        now="2026-11-23T13:00:00",
    )
    assert (again.created, again.updated, again.unchanged, again.delta) == (0, 0, 250, (0, 0, 0))
    assert demand.counts("c1") == counts == demand.recount("c1")
    assert demand.member("c1", "m7")["updatedAt"] == NOW  # not rewritten
    assert "file" not in demand.member("c1", "m7")


def test_flips_and_deselections_keep_counts_exact(demand: DemandTable) -> None:
    write(
        demand,
        "c1",
        [member("m1", "verified", True), member("m2", "rejected", True), member("m3", "verified")],
    )
    stats = write(
        demand,
        "c1",
        [
            (key, fields | {"file": "scrubbed/second.csv"})
            for key, fields in [
                member("m1", "rejected"),
                member("m2", "verified", True),
                member("m4", "verified", True),
            ]
        ],
        run="run-2",
    )
    assert (stats.created, stats.updated, stats.delta) == (1, 2, (1, 0, 0))
    assert demand.counts("c1") == Counts(3, 1, 2) == demand.recount("c1")
    assert demand.member("c1", "m1")["file"] == "scrubbed/second.csv"


def test_a_score_change_alone_updates_the_member_but_no_count(demand: DemandTable) -> None:
    write(demand, "c1", [member("m1", "verified", score=0.5)])
    stats = write(demand, "c1", [member("m1", "verified", score=0.75)], run="run-2")
    assert (stats.updated, stats.delta) == (1, (0, 0, 0))
    assert float(demand.member("c1", "m1")["score"]) == 0.75


def test_any_sequence_of_files_keeps_counts_equal_to_a_recount(demand: DemandTable) -> None:
    rnd = random.Random(11)
    for run in range(6):
        for campaign in ("c1", "c2"):
            rows = {}
            for _ in range(rnd.randint(1, 260)):
                key = f"m{rnd.randint(0, 300)}"
                rows[key] = member(key, rnd.choice(["verified", "rejected"]), rnd.random() < 0.3)[1]
            write(demand, campaign, list(rows.items()), run=f"run-{run}")
            assert demand.counts(campaign) == demand.recount(campaign)


class FailingAdd:
    """The real client, except that the counter ADD of the first chunk fails: a writer that dies
    after writing members and before counting them."""

    def __init__(self, client: Any) -> None:
        self.client, self.failed = client, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def update_item(self, **kwargs: Any) -> Any:
        if kwargs["UpdateExpression"].startswith("ADD") and not self.failed:
            self.failed = True
            raise ConnectionError("the writer died")
        return self.client.update_item(**kwargs)


def test_a_dead_writers_lease_makes_the_next_writer_recount(demand: DemandTable) -> None:
    dying = DemandTable(FailingAdd(demand.client), demand.name, workers=1)
    with pytest.raises(ConnectionError):
        dying.write_members(
            "c1", [member("m1", "verified"), member("m2", "rejected")], writer="run-dead", now=NOW
        )
    assert demand.counts("c1") == Counts(0, 0, 0)  # members written, their delta lost
    assert demand.recount("c1") == Counts(1, 1, 0)
    assert demand.writer("c1")["run"] == "run-dead"

    # while the dead run's lease stands and nobody says it has ended, others must wait
    with pytest.raises(CampaignBusyError, match="campaign c1 is being written by run run-dead"):
        write(demand, "c1", [member("m3", "verified")], run="run-next")

    stats = write(
        demand, "c1", [member("m3", "verified")], run="run-next", holder_alive=lambda run: run != "run-dead"
    )
    assert stats.repaired_from == Counts(0, 0, 0)
    assert demand.counts("c1") == Counts(2, 1, 0) == demand.recount("c1")
    assert demand.writer("c1") is None


def test_a_retry_of_the_same_run_takes_its_own_lease_back_and_repairs(demand: DemandTable) -> None:
    dying = DemandTable(FailingAdd(demand.client), demand.name, workers=1)
    with pytest.raises(ConnectionError):
        dying.write_members("c1", [member("m1", "verified")], writer="run-7", now=NOW)
    stats = write(demand, "c1", [member("m1", "verified")], run="run-7")
    assert (stats.unchanged, stats.repaired_from) == (1, Counts(0, 0, 0))
    assert demand.counts("c1") == Counts(1, 0, 0) == demand.recount("c1")


def test_a_writer_whose_lease_was_taken_over_stops(demand: DemandTable) -> None:
    class TakenOver(FailingAdd):
        def update_item(self, **kwargs: Any) -> Any:
            if kwargs["UpdateExpression"].startswith("ADD") and not self.failed:
                self.failed = True
                self.client.update_item(
                    TableName=demand.name,
                    Key={"PK": {"S": "campaign:c1"}, "SK": {"S": "meta:counts"}},
                    UpdateExpression="SET writer.#run = :other",
                    ExpressionAttributeNames={"#run": "run"},
                    ExpressionAttributeValues={":other": {"S": "run-other"}},
                )
            return self.client.update_item(**kwargs)

    slow = DemandTable(TakenOver(demand.client), demand.name, workers=1)
    with pytest.raises(LeaseLostError, match="lost the lease on campaign c1"):
        slow.write_members("c1", [member("m1", "verified")], writer="run-slow", now=NOW)


def test_repair_counts_recounts_a_campaign(demand: DemandTable) -> None:
    write(demand, "c1", [member("m1", "verified", True), member("m2", "rejected")])
    demand.client.update_item(  # someone edits the counts by hand
        TableName=demand.name,
        Key={"PK": {"S": "campaign:c1"}, "SK": {"S": "meta:counts"}},
        UpdateExpression="SET verified = :v",
        ExpressionAttributeValues={":v": {"N": "40"}},
    )
    before, after = demand.repair_counts("c1", "operator")
    assert (before, after) == (Counts(40, 1, 1), Counts(1, 1, 1))
    assert demand.counts("c1") == Counts(1, 1, 1)


def test_an_item_dynamodb_refuses_fails_alone(demand: DemandTable) -> None:
    huge = member("m2", "verified")[1] | {"events": ["e" * 1000] * 420}  # over DynamoDB's 400 KB
    stats = write(demand, "c1", [member("m1", "verified"), ("m2", huge), member("m3", "rejected", True)])
    assert [key for key, _ in stats.failed] == ["m2"]
    assert "size" in stats.failed[0][1].lower()
    assert (stats.created, stats.delta) == (2, (1, 1, 1))
    assert demand.counts("c1") == Counts(1, 1, 1) == demand.recount("c1")


def test_a_member_twice_in_one_write_is_refused(demand: DemandTable) -> None:
    with pytest.raises(ValueError, match="deduplicate"):
        write(demand, "c1", [member("m1", "verified"), member("m1", "rejected")])


def test_fanlist_entries_are_stored_by_fan_and_leave_counts_alone(demand: DemandTable) -> None:
    entries = [
        (f"fan{i}@x.org", {"score": 0.1 * i, "campaign": {"name": "Tour"}, "file": "fanlist/scored/a.csv"})
        for i in range(130)
    ]
    first = demand.write_fanlist("c1", entries, now=NOW)
    assert (first.created, first.updated, first.unchanged) == (130, 0, 0)
    again = demand.write_fanlist("c1", entries[:5], now=NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    changed = demand.write_fanlist("c1", [("fan1@x.org", {"score": 0.95})], now=NOW)
    assert (changed.created, changed.updated) == (0, 1)
    item = demand.fan("fan3@x.org", "c1")
    assert (item["PK"], item["SK"], item["campaign"], item["file"]) == (
        "fan/sid/email:fan3@x.org",
        "campaign:c1",
        {"name": "Tour"},
        "fanlist/scored/a.csv",
    )
    assert demand.counts("c1") is None


def test_reported_counts_are_stored_once_per_change(demand: DemandTable) -> None:
    assert demand.record_reported("c1", Counts(2, 1, 0), None, NOW)
    assert not demand.record_reported("c1", Counts(3, 1, 0), None, NOW)  # lost a race
    assert demand.record_reported("c1", Counts(3, 1, 0), Counts(2, 1, 0), NOW)
    assert demand.counts("c1", "meta:slack:counts") == Counts(3, 1, 0)


def ordered(key: str, verdict: str, order: str, selected: bool = False) -> tuple[str, dict[str, Any]]:
    """A member as a file of upload order `order` says it."""
    return key, member(key, verdict, selected)[1] | {"uploadOrder": order}


def test_an_older_file_applied_after_a_newer_one_changes_nothing(demand: DemandTable) -> None:
    newer = write(
        demand, "c1", [ordered("m1", "verified", "2026-11-02", True), ordered("m2", "verified", "2")]
    )
    assert newer.created == 2
    older = write(
        demand,
        "c1",
        [
            ordered("m1", "rejected", "2026-11-01"),
            ordered("m2", "verified", "1"),
            ordered("m3", "rejected", "1"),
        ],
    )
    assert (older.created, older.updated, older.unchanged, older.older, older.failed) == (1, 0, 2, 2, [])
    stored = demand.member("c1", "m1")
    assert (stored["verdict"], stored["selected"], stored["uploadOrder"]) == ("verified", True, "2026-11-02")
    assert demand.counts("c1") == Counts(2, 1, 1) == demand.recount("c1")


def test_the_newest_file_stays_even_when_it_repeated_what_the_item_said(demand: DemandTable) -> None:
    """A newer file that repeats a member's state still moves its upload order on: a file between
    the two, applied last, must not win over the newest."""
    write(demand, "c1", [ordered("m1", "verified", "1")])
    repeated = write(demand, "c1", [ordered("m1", "verified", "3")])
    assert repeated.unchanged == 1
    write(demand, "c1", [ordered("m1", "rejected", "2")])
    assert demand.member("c1", "m1")["verdict"] == "verified"
    assert demand.counts("c1") == Counts(1, 0, 0) == demand.recount("c1")


def test_a_put_refused_by_the_upload_order_condition_counts_as_older(demand: DemandTable) -> None:
    """A newer write lands between this writer's read and its put: DynamoDB's condition refuses the
    put, which is no failure and no count change."""

    class NewerLandsFirst:
        def __init__(self, client: Any) -> None:
            self.client, self.done = client, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def batch_get_item(self, **kwargs: Any) -> Any:
            answer = self.client.batch_get_item(**kwargs)
            if not self.done:  # a writer of a newer file that lost its lease lands now
                self.done = True
                self.client.put_item(
                    TableName=demand.name,
                    Item={
                        "PK": {"S": "campaign:c1"},
                        "SK": {"S": "member:m1"},
                        "verdict": {"S": "rejected"},
                        "uploadOrder": {"S": "9"},
                    },
                )
            return answer

    racing = DemandTable(NewerLandsFirst(demand.client), demand.name, workers=1)
    stats = racing.write_members("c1", [ordered("m1", "verified", "5")], writer="run-older", now=NOW)
    assert (stats.created, stats.unchanged, stats.older, stats.failed, stats.delta) == (
        0,
        1,
        1,
        [],
        (0, 0, 0),
    )
    assert demand.member("c1", "m1")["verdict"] == "rejected"


class StallsBeforePut:
    """The real client, except that before its first member put the writer stalls while `meanwhile`
    runs (another writer takes the campaign over and finishes); then the put lands."""

    def __init__(self, client: Any, meanwhile: Any) -> None:
        self.client, self.meanwhile, self.stalled = client, meanwhile, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def put_item(self, **kwargs: Any) -> Any:
        if not self.stalled:
            self.stalled = True
            self.meanwhile()
        return self.client.put_item(**kwargs)


def take_over_while_stalled(demand: DemandTable) -> None:
    """Run-slow stalls holding the lease; run-next takes over (run-slow's run has ended as far as
    Dagster knows), writes s3 and releases; run-slow's put of s2 lands, its count ADD is refused."""
    write(demand, "c1", [member("s1", "verified")], run="run-first")

    def meanwhile() -> None:
        stats = write(
            demand, "c1", [member("s3", "rejected")], run="run-next", holder_alive=lambda run: False
        )
        assert stats.created == 1

    slow = DemandTable(StallsBeforePut(demand.client, meanwhile), demand.name, workers=1)
    with pytest.raises(LeaseLostError):
        slow.write_members("c1", [member("s2", "verified", True)], writer="run-slow", now=NOW)


def test_a_lost_lease_marks_the_campaign_for_a_recount_that_the_next_writer_does(demand: DemandTable) -> None:
    take_over_while_stalled(demand)
    assert demand.writer("c1") is None  # nobody holds the lease, yet the counts miss s2
    assert demand.counts("c1") == Counts(1, 1, 0) != demand.recount("c1") == Counts(2, 1, 1)
    assert demand.recount_wanted("c1")  # persisted in DynamoDB, not in the lost writer's memory

    # the same file applied again sees s2 unchanged: only the recount can repair the counts
    stats = write(demand, "c1", [member("s2", "verified", True)], run="run-again")
    assert (stats.unchanged, stats.repaired_from) == (1, Counts(1, 1, 0))
    assert demand.counts("c1") == Counts(2, 1, 1) == demand.recount("c1")
    assert not demand.recount_wanted("c1")


def test_repair_counts_after_a_lost_lease_when_no_writer_holds_it(demand: DemandTable) -> None:
    take_over_while_stalled(demand)
    before, after = demand.repair_counts("c1", "run-counts")
    assert (before, after) == (Counts(1, 1, 0), Counts(2, 1, 1))
    assert demand.counts("c1") == demand.recount("c1")
    assert not demand.recount_wanted("c1")
    assert demand.writer("c1") is None
