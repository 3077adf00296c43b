"""The Verified Fan test harness: a flow on moto over HTTP and a real local HTTP server standing in
for the Entry Service, the Campaign Service and Slack; sensors ticked and runs executed in process,
as the daemon would."""

from __future__ import annotations

import contextlib
import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    RunRequest,
    build_sensor_context,
    instance_for_test,
)

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.inbox import EventInbox
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.definitions import build_definitions
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.demand_store import DemandTable
from mm_platform.verified_fan.stores.ledger import Ledger
from mm_platform_tests.conftest import RecordedRequest, RecordingServer
from mm_platform_tests.runs import execute_request

HEADER = ["campaign_id", "member_id", "global_user_id", "email", "score", "verdict", "selected", "events"]
CAMPAIGNS = {
    "c1": {"id": "c1", "name": "Tour 2027", "artist": "The Band"},
    "c2": {"id": "c2", "name": "Arena"},
}


def csv_bytes(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class Services:
    """What the fake Entry Service, Campaign Service and Slack were told, answering like the real ones."""

    server: RecordingServer
    entry_down: bool = False
    scored: dict[tuple[str, str], dict] = field(default_factory=dict)

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.path == "/scoring":
            if self.entry_down:
                return 503, {"message": "entry service unavailable"}
            campaign, records = request.body["campaignId"], request.body["records"]
            inserted = sum((campaign, r["memberId"]) not in self.scored for r in records)
            for r in records:
                self.scored[(campaign, r["memberId"])] = r
            return 200, {
                "scoring": len(records),
                "inserted": inserted,
                "updated": len(records) - inserted,
                "found": len(records) - inserted,
                "entries": len(records),
            }
        if request.path.startswith("/campaigns/"):
            campaign = CAMPAIGNS.get(request.path.rsplit("/", 1)[1])
            return (200, campaign) if campaign else (404, {"message": "no such campaign"})
        if request.path == "/api/chat.postMessage":
            return 200, {"ok": True, "channel": "C1", "ts": f"{time.time():.6f}"}
        return 404, {"message": f"no route {request.path}"}

    def calls(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path == path]

    @property
    def slack(self) -> list[dict]:
        return [r.body for r in self.calls("/api/chat.postMessage")]


@dataclass
class Flow:
    settings: Settings
    defs: Definitions
    instance: DagsterInstance
    services: Services
    moto: str
    env: dict[str, str]  # the MM_PLATFORM_* settings, for commands run against the same stack
    cursor: str | None = None

    @property
    def vf(self):
        return self.settings.section(VerifiedFanSettings)

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS)

    @property
    def demand(self) -> DemandTable:
        return DemandTable(self.client("dynamodb"), self.vf.demand_table)

    @property
    def ledger(self) -> Ledger:
        return Ledger(engine_for(self.settings.platform_db_url))

    @property
    def inbox(self) -> EventInbox:
        return EventInbox(engine_for(self.settings.platform_db_url))

    def upload(self, key: str, body: bytes) -> None:
        self.client("s3").put_object(Bucket=self.vf.scoring_bucket, Key=key, Body=body)

    def _tick(self, name: str, cursor: str | None = None):
        sensor = self.defs.get_repository_def().get_sensor_def(name)
        result = sensor.evaluate_tick(
            build_sensor_context(
                instance=self.instance,
                instance_ref=self.instance.get_ref(),
                cursor=cursor,
                resources=self.defs.resources,
                definitions=self.defs,
            )
        )
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return result

    def file_runs(self) -> list:
        """A bucket sensor tick and the intake run of every file it requested."""
        result = self._tick("verified_fan_scoring_bucket_sensor", self.cursor)
        self.cursor = result.cursor
        job = self.defs.resolve_job_def("verified_fan_file_job")
        return [
            job.execute_in_process(instance=self.instance, tags=r.tags, raise_on_error=False)
            for r in result.run_requests
        ]

    def campaign_requests(self) -> list[RunRequest]:
        return self._tick("verified_fan_staged_parts_sensor").run_requests

    def run(self, request: RunRequest):
        return execute_request(self.defs, self.instance, request, raise_on_error=False)

    def process(self) -> tuple[list, list]:
        """Everything the daemon would do for what landed in the bucket: file runs, then campaign runs."""
        files = self.file_runs()
        return files, [self.run(r) for r in self.campaign_requests()]

    def materialize(self, name: str, campaign: str):
        """An operator's "Materialize selected" for one asset partition."""
        job = self.defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={AssetKey(["verified_fan", name])}
        )
        self.instance.add_dynamic_partitions("verified_fan_campaign", [campaign])
        return job.execute_in_process(instance=self.instance, partition_key=campaign, raise_on_error=False)


@pytest.fixture
def services(http_service: RecordingServer) -> Services:
    fake = Services(http_service)
    http_service.responder = fake.answer
    return fake


@contextlib.contextmanager
def make_flow(
    platform_db: str,
    moto: str,
    services: Services,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Flow]:
    suffix = uuid.uuid4().hex[:8]
    env = {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_PLATFORM_DB_URL": platform_db,
        "MM_PLATFORM_AWS_ENDPOINT_URL": moto,
        "MM_PLATFORM_VF_SCORING_BUCKET": f"vf-scoring-{suffix}",
        "MM_PLATFORM_VF_DEMAND_TABLE": f"vf-demand-{suffix}",
        "MM_PLATFORM_VF_SCORES_STREAM": f"vf-scores-{suffix}",
        "MM_PLATFORM_VF_CAMPAIGN_DATA_STREAM": f"vf-campaign-data-{suffix}",
        "MM_PLATFORM_VF_ENTRY_SERVICE_URL": services.server.url,
        "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": services.server.url,
        "MM_PLATFORM_SLACK_BASE_URL": f"{services.server.url}/api/",
        **(extra_env or {}),
    }
    settings = Settings.from_env(env)
    monkeypatch.setenv("MM_PLATFORM_SLACK_TOKEN", "xoxb-test")
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS)
    s3.create_bucket(Bucket=settings.section(VerifiedFanSettings).scoring_bucket)
    kinesis = boto3.client("kinesis", endpoint_url=moto, region_name="us-east-1", **EMBEDDED_CREDENTIALS)
    for stream in (
        settings.section(VerifiedFanSettings).scores_stream,
        settings.section(VerifiedFanSettings).campaign_data_stream,
    ):
        if stream:
            kinesis.create_stream(StreamName=stream, ShardCount=1)
    with instance_for_test() as instance:
        yield Flow(settings, build_definitions(settings), instance, services, moto, env)


@pytest.fixture
def flow(
    moto_endpoint: str, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flow]:
    with make_flow(
        f"sqlite:///{tmp_path}/platform.db", moto_endpoint, services, tmp_path, monkeypatch
    ) as made:
        yield made


def metadata_of(result, name: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == name]
    return {k: v.value for k, v in event.materialization.metadata.items()}


TOUR = csv_bytes(
    [
        ["c1", "m1", "", "m1@fans.org", "0.91", "verified", "true", "ev1|ev2"],
        ["c1", "m2", "", "", "0.40", "rejected", "false", ""],
        ["c1", "m3", "", "", "0.77", "Verified", "", "ev2"],
        ["c1", "m3", "", "", "0.95", "verified", "yes", "ev3|ev1"],  # the same member, higher score: wins
        ["c1", "m4", "", "", "abc", "verified", "", "ev1"],
        ["c1", "", "g5", "", "0.66", "verified", "no", "ev1"],
        ["", "m6", "", "", "0.5", "verified", "", ""],
        ["c1", "m7", "", "not-an-email", "0.5", "rejected", "", ""],
    ]
)
