"""The Verified Fan part of the embedded stack: the Entry/Campaign service stand-ins, the scoring
bucket, demand table and Kinesis streams on moto, the sample campaign and its scored file."""

from __future__ import annotations

from collections.abc import Sequence

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.devstack import ensure_bucket, host_port, port_open
from mm_platform.core.domain import StandIn
from mm_platform.core.settings import Settings
from mm_platform.verified_fan.dev.sample_data import SAMPLE_CAMPAIGN, SAMPLE_KEY, sample_file
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.resources import demand_table_of
from mm_platform.verified_fan.stores.services import CampaignService

# Kinesis shards of the embedded streams: a shard takes 1,000 records/s, so a file's burst needs
# several; moto also copies a shard's sequence numbers on every put, which one shard makes quadratic
EMBEDDED_STREAM_SHARDS = 8


def standins(settings: Settings) -> Sequence[StandIn]:
    """One local server answers as both the Entry Service and the Campaign Service."""
    url = settings.section(VerifiedFanSettings).entry_service_url
    return [StandIn("standins", url, "mm_platform.verified_fan.dev.standins")]


def prepare_stack(settings: Settings) -> None:
    if not settings.aws_endpoint_url:
        return
    vf, aws = settings.section(VerifiedFanSettings), build_aws_resources(settings)
    for bucket in {vf.scoring_bucket, vf.staging_bucket}:
        ensure_bucket(settings.aws_endpoint_url, bucket, settings.aws_region)
    demand_table_of(settings).ensure()
    kinesis = aws["kinesis"].client("kinesis")
    existing = set(kinesis.list_streams().get("StreamNames", []))
    for stream in (vf.scores_stream, vf.campaign_data_stream):
        if stream and stream not in existing:
            kinesis.create_stream(StreamName=stream, ShardCount=EMBEDDED_STREAM_SHARDS)
    if port_open(*host_port(vf.campaign_service_url)):
        CampaignService(base_url=vf.campaign_service_url).put_json(
            f"/campaigns/{SAMPLE_CAMPAIGN['id']}", SAMPLE_CAMPAIGN
        )
    s3 = aws["s3"].get_client()
    if not s3.list_objects_v2(Bucket=vf.scoring_bucket, Prefix=SAMPLE_KEY).get("KeyCount", 0):
        s3.put_object(Bucket=vf.scoring_bucket, Key=SAMPLE_KEY, Body=sample_file())
