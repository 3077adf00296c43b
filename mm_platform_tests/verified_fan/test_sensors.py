"""The staged-parts sensor against a real Dagster instance: campaign runs requested once per new
part, and again, with an attempt number in the run key, for parts a failed run left behind."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from mm_platform.verified_fan.defs.sensors import retry_due
from mm_platform.verified_fan.rules.scoring import Counts
from mm_platform_tests.verified_fan.conftest import TOUR, Flow, Services, make_flow

RETRY_AFTER_SECONDS = 3


@pytest.fixture
def retrying_flow(
    moto_endpoint: str, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flow]:
    retry = {"MM_PLATFORM_VF_RETRY_AFTER_MINUTES": str(RETRY_AFTER_SECONDS / 60)}
    with make_flow(
        f"sqlite:///{tmp_path}/p.db", moto_endpoint, services, tmp_path, monkeypatch, retry
    ) as flow:
        yield flow


def test_a_failed_campaign_run_is_requested_again_once_its_parts_are_due(retrying_flow: Flow) -> None:
    flow = retrying_flow
    flow.upload("scrubbed/tour.csv", TOUR)
    flow.file_runs()
    [part] = flow.ledger.parts()
    s3, bucket, key = flow.client("s3"), flow.vf.staging_bucket, part.staged_uri.split("/", 3)[3]
    staged = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=key)  # the run fails: its staged records are missing

    [first] = flow.campaign_requests()
    assert first.run_key == f"scrubbed|c1|part-{part.id}"
    assert not flow.run(first).success
    # right after the failure nothing new is asked for (the same key again is deduplicated)
    assert [r.run_key for r in flow.campaign_requests()] == [first.run_key]

    time.sleep(RETRY_AFTER_SECONDS + 0.5)
    running = create_run_for_test(
        flow.instance,
        job_name="verified_fan_registrants_job",
        tags={"dagster/partition": "c1"},
        status=DagsterRunStatus.STARTED,
    )
    # a run for the campaign is in progress: it takes the parts, no retry
    assert [r.run_key for r in flow.campaign_requests()] == [first.run_key]
    flow.instance.report_run_canceled(running)
    assert [r.run_key for r in flow.campaign_requests()] == [first.run_key]  # it ended just now
    time.sleep(RETRY_AFTER_SECONDS + 0.5)

    [retry] = flow.campaign_requests()
    assert retry.run_key == f"scrubbed|c1|part-{part.id}|retry-2"  # two runs of the job so far
    assert (retry.job_name, retry.partition_key) == (first.job_name, "c1")
    s3.put_object(Bucket=bucket, Key=key, Body=staged)  # whatever failed is fixed
    assert flow.run(retry).success
    assert flow.demand.counts("c1") == Counts(3, 1, 2)
    assert len(flow.services.slack) == 1
    assert flow.campaign_requests() == []


def test_retries_wait_for_the_parts_and_the_last_run_to_be_old_enough() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0)
    after = dt.timedelta(minutes=10)
    long_ago, just_now = now - dt.timedelta(minutes=11), now - dt.timedelta(minutes=2)
    assert retry_due(long_ago, None, now, after)
    assert retry_due(long_ago, long_ago, now, after)
    assert not retry_due(just_now, None, now, after)  # the first run may still be coming
    assert not retry_due(long_ago, just_now, now, after)  # the last attempt ended moments ago
