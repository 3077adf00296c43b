"""A scored file's whole way: S3 -> bucket sensor -> file intake -> parts sensor -> campaign run ->
DynamoDB, Entry Service, counts and Slack. Real moto over HTTP, a real local HTTP server standing in
for the Entry Service, the Campaign Service and Slack, the platform database on SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
import random
import re
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey

from mm_platform.core.inbox import Status
from mm_platform.verified_fan.rules.scoring import Counts
from mm_platform_tests.core.test_aws import read_stream
from mm_platform_tests.verified_fan.conftest import TOUR, Flow, Services, csv_bytes, make_flow, metadata_of


def test_a_file_becomes_members_entry_scoring_counts_and_one_slack_message(
    database: Callable[[], str],
    moto_endpoint: str,
    services: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with make_flow(database(), moto_endpoint, services, tmp_path, monkeypatch) as flow:
        check_the_whole_way(flow)


def check_the_whole_way(flow: Flow) -> None:
    flow.upload("scrubbed/tour-2027.csv", TOUR)
    [intake] = flow.file_runs()
    assert intake.success
    [observation] = [
        e.event_specific_data.asset_observation
        for e in intake.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    seen = {k: v.value for k, v in observation.metadata.items()}
    assert (seen["rows_in"], seen["valid"], seen["invalid"], seen["duplicates"], seen["campaigns"]) == (
        8,
        5,
        3,
        1,
        "c1",
    )
    [request] = flow.campaign_requests()
    assert (request.job_name, request.partition_key) == ("verified_fan_registrants_job", "c1")
    assert flow.instance.get_dynamic_partitions("verified_fan_campaign") == ["c1"]

    result = flow.run(request)
    assert result.success
    assert metadata_of(result, "scored_registrants") | {"files": None, "scores_stream": None} == {
        "in": 7,  # the row without a campaign id belongs to no campaign
        "valid": 5,
        "invalid": 2,
        "duplicates": 1,
        "out": 4,
        "failed": 0,
        "rank0": 3,
        "files": None,
        "scores_stream": None,
    }
    demand_meta = metadata_of(result, "demand_registrations")
    assert (demand_meta["created"], demand_meta["unchanged"], demand_meta["invalid"]) == (4, 0, 2)

    m3 = flow.demand.member("c1", "m3")
    assert (float(m3["score"]), m3["verdict"], m3["selected"], m3["events"], m3["rank0Event"]) == (
        0.95,
        "verified",
        True,
        ["ev3", "ev1"],
        "ev3",
    )
    assert flow.demand.member("c1", "g5")["globalUserId"] == "g5"
    assert flow.demand.counts("c1") == Counts(3, 1, 2) == flow.demand.recount("c1")
    [check] = result.get_asset_check_evaluations()
    assert check.passed

    # entry scoring: rank-0 records only, one call
    [scoring] = flow.services.calls("/scoring")
    assert sorted((r["memberId"], r["eventId"]) for r in scoring.body["records"]) == [
        ("g5", "ev1"),
        ("m1", "ev1"),
        ("m3", "ev3"),
    ]
    assert metadata_of(result, "entry_scoring") | {"files": None} == {
        "records": 4,
        "input": 3,
        "scoring": 3,
        "inserted": 3,
        "entries": 3,
        "updated": 0,
        "found": 0,
        "calls": 1,
        "files": None,
    }
    # the scores stream has every normalized record
    published = read_stream(flow.client("kinesis"), flow.vf.scores_stream)
    assert sorted(r["memberId"] for r in published) == ["g5", "m1", "m2", "m3"]

    # exactly one Slack message, with the counts and the campaign
    [message] = flow.services.slack
    assert message["channel"] == "#vf-scoring"
    assert message["text"] == "Verified Fan scoring for Tour 2027 (c1): 3 verified, 1 rejected, 2 selected"
    assert {"title": "Artist", "value": "The Band", "short": True} in message["attachments"][1]["fields"]
    assert metadata_of(result, "verdict_report")["outcome"] == "posted"
    assert flow.demand.counts("c1", "meta:slack:counts") == Counts(3, 1, 2)

    # the bad rows, with their line numbers and reasons
    assert [(r["line"], r["campaign_id"], r["reason"]) for r in flow.ledger.rejects()] == [
        (6, "c1", "score is not a number"),  # file lines: the header is line 1
        (8, "", "campaign_id is empty"),
        (9, "c1", "email does not look like an address"),
    ]

    # the same bytes uploaded again: processed again, nothing changes, no new message
    time.sleep(1.1)  # S3 timestamps have one-second resolution
    flow.upload("scrubbed/tour-2027.csv", TOUR)
    files, campaigns = flow.process()
    assert [r.success for r in files + campaigns] == [True, True]
    assert metadata_of(campaigns[0], "demand_registrations")["unchanged"] == 4
    assert flow.demand.counts("c1") == Counts(3, 1, 2) == flow.demand.recount("c1")
    assert len(flow.services.slack) == 1
    assert metadata_of(campaigns[0], "verdict_report")["outcome"] == "unchanged"
    assert flow.campaign_requests() == []  # nothing left to apply


def model_counts(files: list[list[list[Any]]]) -> dict[str, Counts]:
    """The counts by hand: highest score per member within a file (equal: later row), later file wins."""
    state: dict[tuple[str, str], list[Any]] = {}
    for rows in files:
        best: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            key = (row[0], row[1])
            if key not in best or float(row[4]) >= float(best[key][4]):
                best[key] = row
        state.update(best)
    counts: dict[str, list[int]] = {}
    for (campaign, _), row in state.items():
        c = counts.setdefault(campaign, [0, 0, 0])
        c[0] += row[5].lower() == "verified"
        c[1] += row[5].lower() == "rejected"
        c[2] += row[6] in ("true", "1", "yes")
    return {campaign: Counts(*c) for campaign, c in counts.items()}


def random_file(rnd: random.Random, members: int, rows: int) -> list[list[Any]]:
    return [
        [
            rnd.choice(["c1", "c2"]),
            f"m{rnd.randrange(members)}",
            "",
            "",
            f"{rnd.randrange(100) / 100:.2f}",
            rnd.choice(["verified", "rejected", "Verified"]),
            rnd.choice(["true", "false", "", "1", "no"]),
            rnd.choice(["", "ev1", "ev2|ev1"]),
        ]
        for _ in range(rows)
    ]


def test_duplicates_flips_and_deselections_over_several_files_keep_counts_exact(flow: Flow) -> None:
    rnd = random.Random(2027)
    files = [random_file(rnd, 150, 300) for _ in range(3)]
    for number, rows in enumerate(files):
        flow.upload(f"scrubbed/batch-{number}.csv", csv_bytes(rows))
        _, campaigns = flow.process()
        assert all(r.success for r in campaigns)
        expected = model_counts(files[: number + 1])
        for campaign in ("c1", "c2"):
            assert flow.demand.counts(campaign) == expected[campaign] == flow.demand.recount(campaign)
    # one message per campaign and change of counts; the last file again changes nothing
    posted = len(flow.services.slack)
    assert 2 <= posted <= 6
    time.sleep(1.1)
    flow.upload("scrubbed/batch-2.csv", csv_bytes(files[2]))
    flow.process()
    assert len(flow.services.slack) == posted
    assert flow.demand.counts("c1") == model_counts(files)["c1"]


def test_two_files_staged_before_their_run_are_applied_in_upload_order_with_one_report(flow: Flow) -> None:
    flow.upload("scrubbed/first.csv", csv_bytes([["c1", "m1", "", "", "0.5", "verified", "true", "ev1"]]))
    time.sleep(1.1)
    flow.upload("scrubbed/second.csv", csv_bytes([["c1", "m1", "", "", "0.2", "rejected", "false", "ev1"]]))
    assert all(r.success for r in flow.file_runs())
    [request] = flow.campaign_requests()  # one run for both parts
    assert len(request.tags["mm_platform/vf_parts"].split(",")) == 2
    assert flow.run(request).success
    assert flow.demand.member("c1", "m1")["verdict"] == "rejected"  # the later upload wins
    assert flow.demand.counts("c1") == Counts(0, 1, 0)
    [message] = flow.services.slack
    assert "0 verified, 1 rejected, 0 selected" in message["text"]


def test_the_entry_service_is_told_the_same_whether_two_files_run_together_or_apart(
    flow: Flow,
) -> None:
    """m1 has a first-choice event in the first file and none in the second. Applied one run per
    file, the Entry Service keeps the first file's record (nothing takes it back); applied by one run
    for both files it must keep the same, or a crash that splits or joins runs changes the result."""
    flow.upload("scrubbed/first.csv", csv_bytes([["c1", "m1", "", "", "0.5", "verified", "true", "ev1"]]))
    time.sleep(1.1)
    second = [
        ["c1", "m1", "", "", "0.2", "verified", "false", ""],
        ["c1", "m2", "", "", "0.3", "verified", "", "ev1"],
    ]
    flow.upload("scrubbed/second.csv", csv_bytes(second))
    assert all(r.success for r in flow.file_runs())
    [request] = flow.campaign_requests()  # one run for both parts
    assert flow.run(request).success
    assert flow.services.scored[("c1", "m1")]["score"] == 0.5
    assert flow.services.scored[("c1", "m2")]["score"] == 0.3
    assert flow.demand.member("c1", "m1")["score"] == Decimal("0.2")  # the demand table: the later file wins


def test_the_report_waits_while_other_work_for_the_campaign_is_staged(flow: Flow) -> None:
    flow.upload("scrubbed/reg.csv", csv_bytes([["c1", "m1", "", "", "0.5", "verified", "", "ev1"]]))
    flow.upload("fanlist/scored/fans.csv", csv_bytes([["c1", "m9", "", "", "0.7", "", "", ""]]))
    flow.file_runs()
    requests = {r.job_name: r for r in flow.campaign_requests()}
    first = flow.run(requests["verified_fan_registrants_job"])
    report = metadata_of(first, "verdict_report")
    assert report["outcome"] == "deferred"
    assert "staged part(s) not applied yet (fanlist/scored/fans.csv)" in report["reason"]
    assert flow.services.slack == []
    second = flow.run(requests["verified_fan_fanlist_job"])
    assert metadata_of(second, "verdict_report")["outcome"] == "posted"
    assert len(flow.services.slack) == 1


def test_files_that_cannot_be_read_are_refused_with_the_reason(flow: Flow) -> None:
    flow.upload("scrubbed/binary.csv", b"\xff\xfe\x00\x01 not text")
    flow.upload("scrubbed/no-verdict.csv", b"campaign_id,member_id,score\nc1,m1,0.5\n")
    flow.upload("scrubbed/empty.csv", b"")
    flow.upload("scrubbed/", b"")  # a folder marker
    runs = flow.file_runs()
    assert [r.success for r in runs] == [True, True]  # the empty file and the folder never run
    events = {e.entity_key: e for e in flow.inbox.select(topic=f"s3://{flow.vf.scoring_bucket}")}
    assert events["scrubbed/binary.csv"].status is Status.INVALID
    assert events["scrubbed/binary.csv"].reason.startswith("file refused: not a UTF-8 CSV file")
    assert (events["scrubbed/no-verdict.csv"].status, events["scrubbed/no-verdict.csv"].reason) == (
        Status.INVALID,
        "file refused: missing required column(s): verdict",
    )
    assert (events["scrubbed/empty.csv"].status, events["scrubbed/empty.csv"].reason) == (
        Status.INVALID,
        "the file is empty",
    )
    assert events["scrubbed/"].status is Status.IGNORED
    assert flow.campaign_requests() == []


def test_fanlist_scores_are_saved_per_fan_with_campaign_properties(flow: Flow) -> None:
    fans = csv_bytes(
        [
            ["c1", "m1", "", "", "0.3", "", "", "ev1"],
            ["c1", "", "", "Fan@Example.org", "0.8", "", "", ""],
            ["c1", "", "", "fan@example.org", "0.6", "", "", ""],  # the same fan, lower score
            ["c1", "", "", "", "0.6", "", "", ""],  # no identity at all
            ["c9", "m2", "", "", "0.9", "", "", ""],  # a campaign the campaign service does not know
        ]
    )
    flow.upload("fanlist/scored/fans.csv", fans)
    flow.file_runs()
    requests = {r.partition_key: r for r in flow.campaign_requests()}
    assert {r.job_name for r in requests.values()} == {"verified_fan_fanlist_job"}
    known, unknown = flow.run(requests["c1"]), flow.run(requests["c9"])
    assert known.success and unknown.success
    meta = metadata_of(known, "fanlist_scores")
    assert meta["input"] == {"in": 4, "invalid": 1, "duplicate": 1, "valid": 2}
    assert meta["dynamo"] | {"created": None} == {
        "in": 2,
        "failed": 0,
        "out": 2,
        "rejected": 0,
        "created": None,
        "updated": 0,
        "unchanged": 0,
    }
    fan = flow.demand.fan("fan@example.org", "c1")
    assert (float(fan["score"]), fan["campaign"]["name"], fan["PK"]) == (
        0.8,
        "Tour 2027",
        "fan/sid/email:fan@example.org",
    )
    saved = read_stream(flow.client("kinesis"), flow.vf.campaign_data_stream)
    assert sorted(r["identifier"] for r in saved) == ["fan@example.org", "m1"]
    assert metadata_of(unknown, "fanlist_scores")["dynamo"]["rejected"] == 1
    assert flow.demand.fan("m2", "c9") is None
    refused = flow.ledger.rejects(campaign_id="c9")
    assert [(r["stage"], r["reason"]) for r in refused] == [
        ("campaign-service", "campaign c9 is unknown to the campaign service")
    ]
    assert flow.demand.counts("c1") is None  # fanlist entries carry no verdict
    assert metadata_of(known, "verdict_report")["outcome"] == "no counts"
    assert flow.services.slack == []


def test_an_entry_service_that_is_down_fails_its_step_only_and_is_caught_up_later(flow: Flow) -> None:
    flow.services.entry_down = True
    flow.upload("scrubbed/tour.csv", TOUR)
    _, [result] = flow.process()
    assert not result.success
    failed = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert failed == {"verified_fan__entry_scoring"}
    assert flow.demand.counts("c1") == Counts(3, 1, 2)  # counts and the report do not wait for it
    assert len(flow.services.slack) == 1
    assert flow.services.scored == {}

    flow.services.entry_down = False
    retry = flow.materialize("entry_scoring", "c1")  # the operator, or the run's retry
    assert retry.success
    assert sorted(m for _, m in flow.services.scored) == ["g5", "m1", "m3"]
    assert flow.materialize("entry_scoring", "c1").success  # nothing sent twice
    assert metadata_of(flow.materialize("entry_scoring", "c1"), "entry_scoring")["input"] == 0


def test_counts_that_disagree_with_a_recount_fail_the_check_and_hold_the_report(flow: Flow) -> None:
    flow.upload("scrubbed/tour.csv", TOUR)
    flow.process()
    flow.client("dynamodb").update_item(  # someone breaks the counts
        TableName=flow.vf.demand_table,
        Key={"PK": {"S": "campaign:c1"}, "SK": {"S": "meta:counts"}},
        UpdateExpression="ADD verified :five",
        ExpressionAttributeValues={":five": {"N": "5"}},
    )
    job = flow.defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={
            AssetKey(["verified_fan", "campaign_counts"]),
            AssetKey(["verified_fan", "verdict_report"]),
        }
    )
    result = job.execute_in_process(instance=flow.instance, partition_key="c1", raise_on_error=False)
    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["recount"].value == {"verified": 3, "rejected": 1, "selected": 2}
    assert len(flow.services.slack) == 1  # the wrong counts were not posted


def test_counts_left_unsettled_by_a_dead_run_are_recounted(flow: Flow) -> None:
    flow.upload("scrubbed/tour.csv", TOUR)
    _, [result] = flow.process()
    dead_run = result.run_id  # a finished run: its lease can only be a leftover
    flow.client("dynamodb").update_item(
        TableName=flow.vf.demand_table,
        Key={"PK": {"S": "campaign:c1"}, "SK": {"S": "meta:counts"}},
        UpdateExpression="SET writer = :writer, verified = :zero",
        ExpressionAttributeValues={
            ":writer": {"M": {"run": {"S": dead_run}, "expires": {"N": str(int(time.time()) + 600)}}},
            ":zero": {"N": "0"},
        },
    )
    repaired = flow.materialize("campaign_counts", "c1")
    assert repaired.success
    meta = metadata_of(repaired, "campaign_counts")
    assert meta["recounted_from"] == {"verified": 0, "rejected": 1, "selected": 2}
    assert (meta["verified"], meta["rejected"], meta["selected"]) == (3, 1, 2)
    assert flow.demand.writer("c1") is None


def test_without_streams_configured_nothing_is_published(
    moto_endpoint: str, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_streams = {"MM_PLATFORM_VF_SCORES_STREAM": "off", "MM_PLATFORM_VF_CAMPAIGN_DATA_STREAM": "off"}
    with make_flow(
        f"sqlite:///{tmp_path}/p.db", moto_endpoint, services, tmp_path, monkeypatch, no_streams
    ) as flow:
        assert flow.vf.scores_stream is None
        flow.upload("scrubbed/tour.csv", TOUR)
        _, [result] = flow.process()
        assert result.success
        assert metadata_of(result, "scored_registrants")["scores_stream"] == {
            "stream": "not configured",
            "in": 0,
            "failed": 0,
            "out": 0,
        }
        assert flow.demand.counts("c1") == Counts(3, 1, 2)


def test_a_campaign_taken_in_slices_gives_the_same_result(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mm_platform.verified_fan.rules.records.SLICE_ROWS", 3)
    flow.upload("scrubbed/tour.csv", TOUR)
    flow.upload(
        "fanlist/scored/fans.csv", csv_bytes([["c1", f"f{i}", "", "", "0.5", "", "", ""] for i in range(7)])
    )
    flow.file_runs()
    results = [flow.run(r) for r in flow.campaign_requests()]
    assert all(r.success for r in results)
    assert flow.demand.counts("c1") == Counts(3, 1, 2) == flow.demand.recount("c1")
    assert sorted(m for _, m in flow.services.scored) == ["g5", "m1", "m3"]
    assert len(flow.services.calls("/scoring")) == 2  # one call per slice with rank-0 records
    registrants = next(r for r in results if r.dagster_run.job_name == "verified_fan_registrants_job")
    assert metadata_of(registrants, "demand_registrations")["created"] == 4
    fanlist = next(r for r in results if r.dagster_run.job_name == "verified_fan_fanlist_job")
    assert metadata_of(fanlist, "fanlist_scores")["dynamo"]["out"] == 7
    assert len(read_stream(flow.client("kinesis"), flow.vf.campaign_data_stream)) == 7


def test_slack_formatting_in_file_content_is_escaped_in_the_posted_message(flow: Flow) -> None:
    """A campaign id `<!channel>` would ping the whole channel if posted raw."""
    flow.upload("scrubbed/<b>&.csv", csv_bytes([["<!channel>", "m1", "", "", "0.9", "verified", "", ""]]))
    files, campaigns = flow.process()
    assert [r.success for r in files + campaigns] == [True, True]
    [message] = flow.services.slack
    assert message["text"] == (
        "Verified Fan scoring for &lt;!channel&gt; (&lt;!channel&gt;): 1 verified, 0 rejected, 0 selected"
    )
    assert message["attachments"][0]["footer"] == "files: scrubbed/&lt;b&gt;&amp;.csv"
    assert "<" not in str(message["attachments"])


def test_unusual_csv_files_are_read_or_refused_with_a_reason_never_crash_the_intake(flow: Flow) -> None:
    header = b"campaign_id,member_id,score,verdict\n"
    flow.upload("scrubbed/mac.csv", (header + b"c1,m1,0.5,verified\n").replace(b"\n", b"\r"))
    flow.upload("scrubbed/blank-first.csv", b"\n" + header + b"c1,m2,0.5,rejected\n")
    flow.upload(
        "scrubbed/ragged.csv", header + b"c1,m3,0.5,verified,extra\nc1,m4,0.5\nc1,m5,1e999,verified\n"
    )
    flow.upload("scrubbed/twice.csv", b"campaign_id,member_id,score,SCORE,verdict\nc1,m6,1,2,verified\n")
    flow.upload("scrubbed/cut.csv.gz", gzip.compress(header + b"c1,m7,0.5,verified\n" * 2000)[:-40])
    runs = flow.file_runs()
    assert [r.success for r in runs] == [True] * 5
    events = {e.entity_key: e for e in flow.inbox.select(topic=f"s3://{flow.vf.scoring_bucket}")}
    assert (events["scrubbed/twice.csv"].status, events["scrubbed/twice.csv"].reason) == (
        Status.INVALID,
        "file refused: the header names column(s) more than once: score",
    )
    assert events["scrubbed/cut.csv.gz"].status is Status.INVALID
    assert events["scrubbed/cut.csv.gz"].reason.startswith("file refused: broken gzip data")
    rejects = flow.ledger.rejects(object_key="scrubbed/ragged.csv")
    assert [(r["line"], r["member_key"], r["reason"]) for r in rejects] == [
        (2, "m3", "the row has 5 fields, the header 4"),
        (3, "m4", "the row has 3 fields, the header 4"),
        (4, "m5", "score is not finite"),
    ]
    [request] = flow.campaign_requests()
    assert flow.run(request).success
    assert flow.demand.counts("c1") == Counts(1, 1, 0)
    assert sorted(p.object_key for p in flow.ledger.parts(campaign_id="c1")) == [
        "scrubbed/blank-first.csv",
        "scrubbed/mac.csv",
    ]


def test_a_gzip_bomb_is_refused_at_the_size_cap(
    moto_endpoint: str, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = {"MM_PLATFORM_VF_MAX_FILE_BYTES": "1000000"}
    with make_flow(f"sqlite:///{tmp_path}/p.db", moto_endpoint, services, tmp_path, monkeypatch, cap) as flow:
        header = b"campaign_id,member_id,score,verdict\n"
        flow.upload("scrubbed/bomb.csv.gz", gzip.compress(header + b"0" * 50_000_000, compresslevel=9))
        flow.upload("scrubbed/fine.csv.gz", gzip.compress(header + b"c1,m1,0.5,verified\n"))
        assert [r.success for r in flow.file_runs()] == [True, True]
        events = {e.entity_key: e for e in flow.inbox.select(topic=f"s3://{flow.vf.scoring_bucket}")}
        assert (events["scrubbed/bomb.csv.gz"].status, events["scrubbed/bomb.csv.gz"].reason) == (
            Status.INVALID,
            "file refused: the file is larger than 1,000,000 bytes (decompressed)",
        )
        assert [p.object_key for p in flow.ledger.parts()] == ["scrubbed/fine.csv.gz"]


def test_an_older_file_whose_intake_finishes_later_does_not_win(flow: Flow) -> None:
    flow.upload("scrubbed/old.csv", csv_bytes([["c1", "m1", "", "", "0.2", "rejected", "", ""]]))
    time.sleep(1.1)  # S3 timestamps have one-second resolution
    flow.upload(
        "scrubbed/new.csv",
        csv_bytes(
            [
                ["c1", "m1", "", "", "0.9", "verified", "true", ""],
                ["c1", "m2", "", "", "1", "verified", "", ""],
            ]
        ),
    )
    tick = flow._tick("verified_fan_scoring_bucket_sensor")
    job = flow.defs.resolve_job_def("verified_fan_file_job")
    old_intake, new_intake = sorted(tick.run_requests, key=lambda r: "new" in str(r.tags))
    assert job.execute_in_process(instance=flow.instance, tags=new_intake.tags).success
    [request] = flow.campaign_requests()
    assert flow.run(request).success
    assert job.execute_in_process(instance=flow.instance, tags=old_intake.tags).success  # finishes later
    [request] = flow.campaign_requests()
    result = flow.run(request)
    assert result.success
    meta = metadata_of(result, "demand_registrations")
    assert (meta["created"], meta["updated"], meta["unchanged"], meta["failed"]) == (0, 0, 1, 0)
    m1 = flow.demand.member("c1", "m1")
    assert (m1["verdict"], m1["selected"], m1["file"]) == ("verified", True, "scrubbed/new.csv")
    assert flow.demand.counts("c1") == Counts(2, 0, 1) == flow.demand.recount("c1")


def test_campaign_counts_repair_what_a_writer_that_lost_its_lease_left(flow: Flow) -> None:
    from mm_platform_tests.verified_fan.test_demand_store import take_over_while_stalled

    flow.upload("scrubbed/tour.csv", TOUR)
    flow.process()
    demand = flow.demand
    take_over_while_stalled(demand)  # s1, s2 (lost from the counts) and s3 besides TOUR's
    wrong, right = demand.counts("c1"), demand.recount("c1")
    assert wrong != right and demand.writer("c1") is None
    repaired = flow.materialize("campaign_counts", "c1")
    assert repaired.success
    meta = metadata_of(repaired, "campaign_counts")
    assert meta["recounted_from"] == wrong.as_dict()
    assert (meta["verified"], meta["rejected"], meta["selected"]) == right
    assert demand.counts("c1") == right


def test_a_part_that_keeps_failing_is_quarantined_and_the_parts_behind_it_proceed(
    moto_endpoint: str, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from mm_platform.cli import main

    two = {"MM_PLATFORM_VF_PART_MAX_ATTEMPTS": "2"}
    with make_flow(f"sqlite:///{tmp_path}/p.db", moto_endpoint, services, tmp_path, monkeypatch, two) as flow:
        flow.upload("scrubbed/bad.csv", csv_bytes([["c1", "m1", "", "", "0.5", "verified", "", ""]]))
        flow.file_runs()
        [bad] = flow.ledger.parts()
        # its staged records are gone: every run that takes this part fails
        flow.client("s3").delete_object(Bucket=flow.vf.staging_bucket, Key=bad.staged_uri.split("/", 3)[3])
        time.sleep(1.1)
        flow.upload("scrubbed/good.csv", csv_bytes([["c1", "m2", "", "", "0.7", "verified", "yes", ""]]))
        flow.file_runs()
        [request] = flow.campaign_requests()

        assert not flow.run(request).success  # both parts taken together: both suspect
        assert not flow.run(request).success  # the first part alone fails again: quarantined
        quarantined = {p.object_key: p for p in flow.ledger.parts()}["scrubbed/bad.csv"]
        assert quarantined.status == "QUARANTINED"
        assert quarantined.last_error.startswith("quarantined after 2 failed attempts: ")
        assert "NoSuchKey" in quarantined.last_error

        result = flow.run(request)
        assert result.success
        assert flow.demand.member("c1", "m2")["verdict"] == "verified"
        assert flow.demand.member("c1", "m1") is None
        assert flow.demand.counts("c1") == Counts(1, 0, 1) == flow.demand.recount("c1")
        [message] = flow.services.slack  # the quarantined part is no longer waited for
        assert "1 verified" in message["text"]
        assert flow.campaign_requests() == []

        listed = CliRunner().invoke(main, ["vf", "files", "--campaign", "c1"], env=flow.env).output
        assert re.search(r"QUARANTINED +c1 .* scrubbed/bad.csv", listed)
        assert "quarantined after 2 failed attempts: " in listed
