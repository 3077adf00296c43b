"""Verified Fan: the transform (parse + validate + rank + dedup + normalize of a scored file,
vectorised with Arrow, next to a per-row Python loop doing the same), and the whole flow end to end
on the embedded stack with a real `dagster-daemon`.

    .venv/bin/python benchmarks/verified_fan.py [--rows 1000000] [--loop-rows 1000000] [--e2e-rows 100000]

Target: >= 200,000 rows/s for the vectorised transform. End to end: a throwaway broker, moto and the
service stand-ins, the repository's dagster.yaml; the embedded sample file warms the daemon's code
server up, then one campaign's file of --e2e-rows rows is uploaded (at a random point of the sensor
daemon's 5 s loop) and followed to its Slack report, and uploaded again (nothing changes).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import math
import os
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from _support import REPO, broker, start_daemon, wait
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, RunsFilter

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.devstack import (
    free_port,
    start_moto,
    start_standin,
    stop_process,
)
from mm_platform.core.domain import StandIn
from mm_platform.core.s3_sensor import OBJECT_KEY_TAG
from mm_platform.core.settings import Settings
from mm_platform.verified_fan.dev import stack as vf_stack
from mm_platform.verified_fan.dev.sample_data import SAMPLE_CAMPAIGN, scored_file
from mm_platform.verified_fan.rules.scoring import (
    EMAIL,
    FALSE_WORDS,
    SCRUBBED,
    TRUE_WORDS,
    read_csv,
    validate,
)
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.resources import demand_table_of
from mm_platform.verified_fan.stores.services import CampaignService


def per_row_loop(data: bytes) -> tuple[int, int]:
    """The same rules, one row at a time (what a straightforward Lambda would do)."""
    email_re, kept, rejects = re.compile(EMAIL), {}, 0
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    for line, row in enumerate(reader, start=1):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
        key = row.get("member_id") or row.get("global_user_id")
        email, verdict, selected = (
            row.get("email", "").lower(),
            row.get("verdict", "").lower(),
            row.get("selected", "").lower(),
        )
        try:
            score = float(row["score"])
        except ValueError:
            score = None
        if (
            not row.get("campaign_id")
            or not key
            or score is None
            or not math.isfinite(score)
            or (email and not email_re.match(email))
            or verdict not in ("verified", "rejected")
            or selected not in TRUE_WORDS | FALSE_WORDS
        ):
            rejects += 1
            continue
        events = [e.strip() for e in row.get("events", "").split("|") if e.strip()]
        record = {
            "campaign_id": row["campaign_id"],
            "member_key": key,
            "score": score,
            "verdict": verdict,
            "selected": selected in TRUE_WORDS,
            "events": events,
            "rank0_event": events[0] if events else None,
            "line": line,
        }
        previous = kept.get((row["campaign_id"], key))
        if previous is None or score >= previous["score"]:
            kept[(row["campaign_id"], key)] = record
    return len(kept), rejects


STEPS = ["scored_registrants", "demand_registrations", "entry_scoring", "campaign_counts", "verdict_report"]


def materialized_at(instance: DagsterInstance, name: str, campaign: str, after: float) -> float | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(["verified_fan", name]), asset_partitions=[campaign]), limit=1
    ).records
    return records[0].timestamp if records and records[0].timestamp > after else None


def follow_upload(instance, settings, key: str, body: bytes, campaign: str) -> dict[str, float]:
    """Upload at a random point of the daemon's sensor loop; seconds from the upload to each step."""
    s3 = build_aws_resources(settings)["s3"].get_client()
    time.sleep(random.uniform(0, 5))
    start = time.time()
    s3.put_object(Bucket=settings.section(VerifiedFanSettings).scoring_bucket, Key=key, Body=body)
    wait(lambda: materialized_at(instance, STEPS[-1], campaign, start), timeout=900)
    times = {}
    [intake] = instance.get_run_records(RunsFilter(tags={OBJECT_KEY_TAG: key}), limit=1)
    times["intake run created"] = intake.create_timestamp.timestamp() - start
    times["intake run done (staged)"] = intake.end_time - start
    [run] = instance.get_run_records(RunsFilter(tags={"dagster/partition": campaign}), limit=1)
    times["campaign run created"] = run.create_timestamp.timestamp() - start
    for step in STEPS:
        times[step] = materialized_at(instance, step, campaign, start) - start
    return times


def end_to_end(rows: int) -> None:
    with broker() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        moto_port, standins_port = free_port(), free_port()
        moto = start_moto("127.0.0.1", moto_port, Path(tmp) / "moto.log")
        (Path(tmp) / "logs").mkdir()
        standins_url = f"http://127.0.0.1:{standins_port}"
        standins = start_standin(
            StandIn("standins", standins_url, "mm_platform.verified_fan.dev.standins"), Path(tmp)
        )
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "MM_PLATFORM_STATE_DIR": tmp,
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MM_PLATFORM_AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "MM_PLATFORM_VF_ENTRY_SERVICE_URL": f"http://127.0.0.1:{standins_port}",
            "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": f"http://127.0.0.1:{standins_port}",
        }
        settings = Settings.from_env(env)
        vf_stack.prepare_stack(settings)  # uploads the sample file: the warm-up
        instance = DagsterInstance.from_config(str(home))
        daemon = start_daemon(env)
        try:
            wait(lambda: materialized_at(instance, STEPS[-1], SAMPLE_CAMPAIGN["id"], 0), timeout=900)
            campaign = f"bench-{rows}"
            CampaignService(base_url=settings.section(VerifiedFanSettings).campaign_service_url).put_json(
                f"/campaigns/{campaign}", {"name": f"Benchmark {rows:,}"}
            )
            body = scored_file(rows, seed=5, campaigns=[campaign], events=["e1", "e2", "e3"])
            key = f"scrubbed/{campaign}.csv"
            first = follow_upload(instance, settings, key, body, campaign)
            demand = demand_table_of(settings)
            counts = demand.counts(campaign)
            time.sleep(1.1)
            again = follow_upload(instance, settings, key, body, campaign)
            assert demand.counts(campaign) == counts == demand.recount(campaign)
        finally:
            stop_process(daemon.pid, timeout=20)
            stop_process(standins.pid)
            stop_process(moto.pid)
    size = f"{rows:,} rows ({len(body) / 1e6:.1f} MB)"
    print(f"\nend to end, one campaign, {size}, {dt.date.today()}; counts {counts}")
    print(f"{'upload ->':32} {'first upload':>14} {'same file again':>16}")
    for step in first:
        print(f"{step:32} {first[step]:12.1f} s {again[step]:14.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-rows", type=int, default=1_000_000)
    parser.add_argument("--e2e-rows", type=int, default=100_000, help="0: skip the end-to-end run")
    args = parser.parse_args()
    transform(args)
    if args.e2e_rows:
        end_to_end(args.e2e_rows)


def transform(args: argparse.Namespace) -> None:
    data = scored_file(args.rows)
    print(f"file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = validate(read_csv(data), SCRUBBED)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(
        f"vectorised: {best:.2f} s (best of 3), {args.rows / best:,.0f} rows/s; "
        f"{len(result.valid):,} kept, {len(result.rejects):,} rejected, {result.duplicates:,} duplicates"
    )
    if args.loop_rows:
        loop_data = data if args.loop_rows == args.rows else scored_file(args.loop_rows)
        start = time.perf_counter()
        kept, rejects = per_row_loop(loop_data)
        seconds = time.perf_counter() - start
        print(
            f"per-row loop: {seconds:.2f} s, {args.loop_rows / seconds:,.0f} rows/s; {kept:,} kept, "
            f"{rejects:,} rejected; vectorised is {seconds / best * args.rows / args.loop_rows:.1f}x faster"
        )


if __name__ == "__main__":
    main()
