"""The embedded stack on free ports: it starts, prepares topics and sample data, keeps the broker's
log in moto's S3 so a broker restart loses nothing, and stops what it started."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import requests
from sqlalchemy import func, inspect, select

from mm_platform.arena.settings import ArenaSettings
from mm_platform.arena.stores.lookups import MulighetsrommetApi
from mm_platform.core.aws import aws_kwargs, build_aws_resources
from mm_platform.core.devstack import Stack, free_port, port_open, start_tansu, stop_process
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.settings import Settings
from mm_platform.core.sql import engine_for
from mm_platform.domains import DOMAINS
from mm_platform.marathon.dev.sample_data import SAMPLE_CODERS, SAMPLE_ROUND_ID
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores.schema import long_comp_result
from mm_platform.scoring.dev.sample_data import EMBEDDED_API_TOKEN, SAMPLE_CONFIGS, submission_url
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores.config_store import ChallengeConfigStore
from mm_platform.verified_fan.dev.sample_data import SAMPLE_CAMPAIGN, SAMPLE_KEY, sample_file
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.services import CampaignService, EntryService
from mm_platform_tests.soak import arena_lookups_env


def check_arena_is_ready(settings: Settings) -> None:
    """The five Arena topics exist and the lookups stand-in holds the sample gjennomføringer."""
    arena = settings.section(ArenaSettings)
    kafka = KafkaResource(bootstrap_servers=settings.kafka_bootstrap_servers)
    for topic in (*arena.input_topics, arena.amt_topic, arena.enkeltplass_topic):
        assert kafka.partitions(topic) == [0, 1, 2, 3], topic
    assert (
        MulighetsrommetApi(base_url=arena.mulighetsrommet_url).gjennomforing_id("1004") is None
    )  # sample: unknown to MR


def test_stack_up_prepares_everything_and_down_stops_it(tmp_path: Path, moto_endpoint: str) -> None:
    kafka_port, standins_port, suffix = free_port(), free_port(), uuid.uuid4().hex[:8]
    standins = f"http://127.0.0.1:{standins_port}"
    submission_api_port, arena_lookups_port = free_port(), free_port()
    settings = Settings.from_env(
        {
            "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            "MM_PLATFORM_AWS_ENDPOINT_URL": moto_endpoint,  # already running: reused, not started
            "MM_PLATFORM_VF_ENTRY_SERVICE_URL": standins,
            "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": standins,
            "MM_PLATFORM_VF_SCORING_BUCKET": f"vf-scoring-{suffix}",
            "MM_PLATFORM_VF_DEMAND_TABLE": f"vf-demand-{suffix}",
            "MM_PLATFORM_VF_SCORES_STREAM": f"vf-scores-{suffix}",
            "MM_PLATFORM_MEMBER_STATS_TABLE": f"member-stats-{suffix}",
            "MM_PLATFORM_MEMBER_HISTORY_TABLE": f"member-history-{suffix}",
            "MM_PLATFORM_SCORING_SUBMISSION_API_URL": f"http://127.0.0.1:{submission_api_port}",
            "MM_PLATFORM_SCORING_SUBMISSIONS_BUCKET": f"mm-submissions-{suffix}",
            **arena_lookups_env(f"http://127.0.0.1:{arena_lookups_port}"),
        }
    )
    stack = Stack(settings, DOMAINS)
    started = stack.up()
    try:
        assert set(started) == {"tansu", "standins", "submission-api", "arena-lookups"}
        check_verified_fan_is_ready(settings)
        check_scoring_is_ready(settings)
        assert stack.status() == {
            "kafka": True,
            "aws": True,
            "standins": True,
            "submission-api": True,
            "arena-lookups": True,
        }
        check_arena_is_ready(settings)
        kafka = KafkaResource(bootstrap_servers=settings.kafka_bootstrap_servers)
        assert kafka.partitions("notifications.autopilot.events") == [0, 1, 2]
        with engine_for(settings.oltp_db_url).connect() as conn:
            rows = conn.execute(
                select(func.count())
                .select_from(long_comp_result)
                .where(long_comp_result.c.round_id == SAMPLE_ROUND_ID)
            ).scalar_one()
        assert rows == SAMPLE_CODERS - 2 - 3  # no row for two final submitters and three non-submitters
        assert (settings.dagster_home / "dagster.yaml").exists()
        # what the README says exists after `make dev`, before any run
        assert {"coder", "algo_rating", "long_comp_result"} <= set(
            inspect(engine_for(settings.dw_db_url)).get_table_names()
        )
        stats_table = settings.section(MarathonSettings).member_stats_table
        assert build_aws_resources(settings)["dynamodb"].get_client().describe_table(TableName=stats_table)
        assert stack.up() == {}  # idempotent: nothing started twice, sample data not duplicated

        # the broker keeps its log in S3: a restart loses no message
        kafka.produce("notifications.autopilot.events", [json.dumps({"n": i}) for i in range(5)], key="k")
        stop_process(started["tansu"])
        assert not port_open("127.0.0.1", kafka_port)
        restarted = start_tansu("127.0.0.1", kafka_port, tmp_path / "tansu.log", moto_endpoint)
        try:
            records, _ = kafka.consume_batch(["notifications.autopilot.events"], {}, 100, 10)
            assert sorted(json.loads(r.value)["n"] for r in records) == list(range(5))
        finally:
            stop_process(restarted.pid)
    finally:
        stack.down()
    assert not port_open("127.0.0.1", kafka_port)
    assert not port_open("127.0.0.1", standins_port)
    assert not port_open("127.0.0.1", submission_api_port)
    assert not port_open("127.0.0.1", arena_lookups_port)
    assert not stack.record.exists()


def check_verified_fan_is_ready(settings: Settings) -> None:
    vf, aws = settings.section(VerifiedFanSettings), build_aws_resources(settings)
    s3 = aws["s3"].get_client()
    sample = s3.get_object(Bucket=vf.scoring_bucket, Key=SAMPLE_KEY)["Body"].read()
    assert sample == sample_file()
    assert aws["dynamodb"].get_client().describe_table(TableName=vf.demand_table)["Table"]["TableStatus"]
    streams = aws["kinesis"].client("kinesis").list_streams()["StreamNames"]
    assert {vf.scores_stream, vf.campaign_data_stream} <= set(streams)
    campaigns = CampaignService(base_url=vf.campaign_service_url)
    assert campaigns.campaign(SAMPLE_CAMPAIGN["id"])["name"] == SAMPLE_CAMPAIGN["name"]
    assert [c["id"] for c in campaigns.campaigns_for_event("ev-chi-0604")] == [SAMPLE_CAMPAIGN["id"]]
    answer = EntryService(base_url=vf.entry_service_url).post_scoring(
        "c1", [{"memberId": "m1", "eventId": "e1", "score": 0.5}]
    )
    assert answer == {"scoring": 1, "inserted": 1, "updated": 0, "found": 0, "entries": 1}
    again = EntryService(base_url=vf.entry_service_url).post_scoring(
        "c1", [{"memberId": "m1", "eventId": "e2", "score": 0.5}]
    )
    assert again == {"scoring": 1, "inserted": 0, "updated": 1, "found": 1, "entries": 1}


def check_scoring_is_ready(settings: Settings) -> None:
    """The sample challenges' configs and the API token in SSM, the sample submissions downloadable by
    their plain URL, the submissions topic, the Submission API stand-in requiring the token."""
    scoring = settings.section(ScoringSettings)
    configs = ChallengeConfigStore(**aws_kwargs(settings))
    for challenge_id in SAMPLE_CONFIGS:
        assert configs.config(challenge_id).challenge_id == challenge_id
    assert configs.token() == EMBEDDED_API_TOKEN
    good = requests.get(
        submission_url(settings.aws_endpoint_url, scoring.submissions_bucket, "good-1"), timeout=10
    )
    assert good.status_code == 200 and good.content.startswith(b"PK")  # a zip, unsigned
    kafka = KafkaResource(bootstrap_servers=settings.kafka_bootstrap_servers)
    assert kafka.partitions(scoring.topic) == [0, 1, 2]
    assert requests.get(f"{scoring.submission_api_url}/reviews", timeout=10).status_code == 401
