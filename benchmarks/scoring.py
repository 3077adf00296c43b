"""Submission scoring on the embedded stack with a real daemon: submissions over several challenges with a
trivial scorer, from publish to the review posted at the Submission API stand-in.

    .venv/bin/python benchmarks/scoring.py                          # 1,000 submissions, 10 challenges
    .venv/bin/python benchmarks/scoring.py --submissions 100 --challenges 4

Prints throughput, latency percentiles, and where the seconds of one submission go on an idle stack
(sensor, run queue and launch, inside the run, the scorer itself, posting).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests
from dagster import DagsterInstance, RunsFilter

from mm_platform.core.aws import aws_kwargs
from mm_platform.core.inbox import EventInbox
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sql import engine_for
from mm_platform.scoring.dev.sample_data import submission_url
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores.config_store import ChallengeConfigStore
from mm_platform.scoring.stores.scores_store import scoring_result
from mm_platform_tests.soak import EmbeddedStack

TESTS = 5
# answers at once: the benchmark measures the platform, not a scorer
TRIVIAL_SCORER = (
    "from dagster_pipes import open_dagster_pipes\n"
    "with open_dagster_pipes() as pipes:\n"
    "    seeds = pipes.extras['seeds']\n"
    "    tests = [{'testcase': s, 'score': float(s % 7), 'runTimeMs': 1.0} for s in seeds]\n"
    "    score = sum(t['score'] for t in tests) / len(tests)\n"
    "    pipes.report_custom_message({'score': score, 'testScores': tests})\n"
)


def config(challenge_id: str, max_concurrent: int) -> dict[str, Any]:
    return {
        "challengeId": challenge_id,
        "scorerType": "trivial",
        "ecsCluster": "bench",
        "ecsTaskDefinition": "bench:1",
        "timeout": 60,
        "memoryLimit": 256,
        "maxConcurrent": max_concurrent,
        "command": ["python", "-c", TRIVIAL_SCORER],
        "phases": [
            {
                "name": "provisional",
                "reviewTypeId": "p",
                "scoreCardId": "s",
                "startSeed": 1,
                "numberOfTests": TESTS,
            }
        ],
    }


def posted_reviews(api_url: str) -> dict[str, float]:
    """Submission id -> when its review was posted (epoch seconds), from the stand-in's request log."""
    answer = requests.get(f"{api_url}/_requests", timeout=30).json()
    posted = {}
    for r in answer:
        if r["method"] == "POST" and r["path"] == "/reviews" and r.get("status", 201) < 300:
            posted.setdefault(r["body"]["submissionId"], float(r["at"]))  # epoch seconds
    return posted


def publish(kafka: KafkaResource, topic: str, events: list[dict]) -> float:
    started = time.time()
    kafka.produce(topic, [json.dumps(e) for e in events])
    return started


def event(challenge_id: str, member: str, url: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "challengeId": challenge_id,
        "url": url,
        "memberId": member,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }


def wait_for(api_url: str, ids: set[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        posted = {k: v for k, v in posted_reviews(api_url).items() if k in ids}
        if len(posted) == len(ids) or time.monotonic() > deadline:
            return posted
        time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def scorer_seconds(platform_db: str, ids: set[str]) -> list[float]:
    with engine_for(platform_db).connect() as conn:
        rows = conn.execute(
            scoring_result.select().with_only_columns(
                scoring_result.c.submission_id, scoring_result.c.scorer_seconds
            )
        )
        return [r.scorer_seconds for r in rows if r.submission_id in ids and r.scorer_seconds is not None]


def idle_breakdown(
    stack: EmbeddedStack, kafka: KafkaResource, topic: str, challenge: str, url: str, api: str
) -> None:
    """One submission at a time on an idle stack: where its seconds go."""
    instance = DagsterInstance.from_config(str(stack.settings.dagster_home))
    inbox = EventInbox(engine_for(stack.settings.platform_db_url))
    marks: dict[str, list[float]] = {}
    for i in range(5):
        e = event(challenge, f"idle-{i}", url)
        sent = publish(kafka, topic, [e])
        posted = wait_for(api, {e["id"]}, 120)[e["id"]]
        [stored] = inbox.select(topic=topic, entity_key=f"submission:{e['id']}", limit=1)
        runs = instance.get_run_records(RunsFilter(tags={"mm_platform/inbox_ids": str(stored.id)}))
        record = runs[0]
        [scorer] = scorer_seconds(stack.settings.platform_db_url, {e["id"]})
        received = stored.received_at.timestamp() if stored.received_at.tzinfo else _utc(stored.received_at)
        created = record.create_timestamp.timestamp()
        started = record.start_time or created
        for name, value in (
            ("sensor: published -> stored in the inbox", received - sent),
            ("run request -> run created", created - received),
            ("run queue and process launch", started - created),
            ("run start -> review posted (imports, config, scorer, posting)", posted - started),
            ("  of which the scorer process (Pipes)", scorer),
            ("total: published -> review posted", posted - sent),
        ):
            marks.setdefault(name, []).append(value)
        time.sleep(1)
    print("\none submission at a time on an idle stack (median of 5):")
    for name, values in marks.items():
        print(f"  {statistics.median(values):6.2f} s  {name}")


def _utc(value) -> float:
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--challenges", type=int, default=10)
    parser.add_argument("--max-concurrent", type=int, default=2, help="scorers per challenge run")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--root", type=Path, help="keep the stack here (default: a temporary folder)")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="mm-scoring-bench-"))
    stack = EmbeddedStack(root)
    stack.up()
    try:
        scoring = stack.settings.section(ScoringSettings)
        api = scoring.submission_api_url
        configs = ChallengeConfigStore(**aws_kwargs(stack.settings))
        challenges = [f"bench-{uuid.uuid4().hex[:8]}-{i}" for i in range(args.challenges)]
        for challenge in challenges:
            configs.put_config(challenge, config(challenge, args.max_concurrent))
        url = submission_url(stack.settings.aws_endpoint_url, scoring.submissions_bucket, "good-1")
        kafka = KafkaResource(bootstrap_servers=stack.settings.kafka_bootstrap_servers)
        stack.start_daemon()
        idle_breakdown(stack, kafka, scoring.topic, challenges[0], url, api)

        events = [event(challenges[i % len(challenges)], f"m{i}", url) for i in range(args.submissions)]
        sent = publish(kafka, scoring.topic, events)
        posted = wait_for(api, {e["id"] for e in events}, args.timeout)
        done = len(posted)
        wall = max(posted.values()) - sent if posted else float("nan")
        latencies = [t - sent for t in posted.values()]
        scorers = scorer_seconds(stack.settings.platform_db_url, {e["id"] for e in events})
        instance = DagsterInstance.from_config(str(stack.settings.dagster_home))
        runs = [
            r
            for r in instance.get_run_records(RunsFilter(job_name="scoring_challenge_job"))
            if r.start_time and r.end_time
        ]
        run_seconds = sum(r.end_time - r.start_time for r in runs)
        print(f"\n{args.submissions} submissions over {args.challenges} challenges, published at once:")
        print(f"  {done} reviews posted in {wall:.1f} s: {done / wall:.1f} submissions/s")
        p50, p90 = percentile(latencies, 0.5), percentile(latencies, 0.9)
        print(f"  latency publish -> review: p50 {p50:.1f} s, p90 {p90:.1f} s")
        print(f"  scorer process per submission: median {statistics.median(scorers):.2f} s")
        print(f"  {len(runs)} scoring runs, {run_seconds / max(done, 1):.2f} run-seconds per submission")
        per_submission = run_seconds / max(done, 1) - statistics.median(scorers) / args.max_concurrent
        print(f"  platform overhead per submission inside runs: {per_submission:.2f} s")
        return 0 if done == args.submissions else 1
    finally:
        stack.down()


if __name__ == "__main__":
    sys.exit(main())
