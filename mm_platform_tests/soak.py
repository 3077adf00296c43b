"""The crash soak: the same input twice on a fresh embedded stack, once clean and once while the
Dagster daemon (with its code server and run workers) and once the broker are killed with SIGKILL at
random points; then the end states are compared: inbox, OLTP and DW rows, member stats, Verified Fan
demand items and counts, Entry Service records. Used by `benchmarks/soak.py` and, small, the suite.

The input, from one seed: review-END events of marathon rounds (each round with a second, later
event that runs it again), byte-identical duplicates, other phases, events of unknown or other
projects and garbage (malformed JSON, wrong shapes, random bytes, empty values), in batches, shuffled
within a batch; Verified Fan scored files whose members' verdicts flip from file to file, plus
replays (the same object uploaded again, and an earlier file's content under a new key).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import MetaData, select

from mm_platform.core.aws import build_aws_resources
from mm_platform.core.devstack import Stack, dev_environment, free_port, host_port, start_tansu, stop_process
from mm_platform.core.inbox import EventInbox, event_inbox
from mm_platform.core.launcher import process_alive
from mm_platform.core.settings import Settings
from mm_platform.core.slack import SlackNotifier
from mm_platform.core.sql import engine_for
from mm_platform.domains import DOMAINS
from mm_platform.marathon.dev.sample_data import (
    NON_MARATHON_PROJECT_ID,
    UNMAPPED_MARATHON_PROJECT_ID,
    insert_round,
    review_end_event,
)
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores import profile_state
from mm_platform.verified_fan.dev.sample_data import scored_file
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores.services import CampaignService, EntryService

REPO = Path(__file__).resolve().parents[1]
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
# Written with the time of the write (or of the upload), so a second run of the same input differs
# there by design; left out of the comparison at any depth of a JSON value. uploadOrder holds the
# upload's time; writer is a lease a killed run left (it expires by itself); stats/indexed_version
# count publications, which depend on how runs were split (that none is left unindexed is checked apart).
VOLATILE = {
    "createdAt",
    "updatedAt",
    "modify_date",
    "writer",
    "uploadOrder",
    "stats_version",
    "indexed_version",
}
UPLOAD_TIME = re.compile(r"@\d{4}-\d\d-\d\dT[\d:.]+(?:\+00:00|Z)?")


def volatile(name: str) -> bool:
    return name in VOLATILE or name.endswith("_at")


def comparable(value: Any) -> Any:
    """`value` without volatile fields; an object's upload time in a reference becomes "@<upload>"."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if not volatile(k)}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, str) and value.startswith("{"):
        try:
            return comparable(json.loads(value))
        except ValueError:
            pass
    if isinstance(value, str):
        return UPLOAD_TIME.sub("@<upload>", value)
    return value


@dataclass(frozen=True)
class SoakPlan:
    messages: int = 400
    rounds: int = 2
    files: int = 3
    campaigns: int = 2
    rows_per_file: int = 300
    batches: int = 4
    daemon_kills: int = 2
    broker_kill: bool = True
    seed: int = 7
    quiet_seconds: float = 30.0
    timeout_seconds: float = 900.0


@dataclass
class Step:
    messages: list[tuple[bytes, bytes | None]] = field(default_factory=list)  # (key, value)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)  # (object key, body)


@dataclass
class SoakInput:
    steps: list[Step]
    rounds: list[dict[str, Any]]
    campaigns: list[str]
    duplicates: int  # messages that repeat an earlier one, and replayed uploads

    @property
    def events(self) -> int:
        return sum(len(s.messages) for s in self.steps)

    @property
    def uploads(self) -> int:
        return sum(len(s.uploads) for s in self.steps)


def _phase_event(project_id: int, phase_id: int, phase: str, state: str) -> dict[str, Any]:
    event = review_end_event(project_id=project_id, phase_id=phase_id)
    event["payload"].update(phaseTypeName=phase, state=state)
    return event


def _garbage(rng: random.Random) -> bytes | None:
    choices: list[bytes | None] = [
        b"{not json",
        b"[1, 2, 3]",
        b'"just a string"',
        b'{"topic": "notifications.autopilot.events"}',
        json.dumps({"payload": {"phaseTypeName": "Review", "state": "END"}}).encode(),
        json.dumps({"payload": {"projectId": "abc", "phaseTypeName": "Review", "state": "END"}}).encode(),
        b"",
        None,
        bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))),
    ]
    return rng.choice(choices)


def build_input(plan: SoakPlan) -> SoakInput:
    rng = random.Random(plan.seed)
    rounds = [
        {
            "round_id": 880_001 + r,
            "contest_id": 40_001 + r,
            "project_id": 40_373_000 + r,
            "start": dt.datetime(2024, 4, 1) + dt.timedelta(days=10 * r),
            "coder_id_base": 21_000_000 + 1_000 * r,  # a round's coders are its own: rounds rate apart
        }
        for r in range(plan.rounds)
    ]
    steps = [Step() for _ in range(plan.batches)]
    # every round ends in some batch and is run again by a second event in a later (or the same) one
    unique: list[tuple[int, bytes]] = []
    for r in rounds:
        first = rng.randrange(plan.batches)
        second = rng.randrange(first, plan.batches)
        for batch, phase_id in ((first, r["round_id"] * 10 + 1), (second, r["round_id"] * 10 + 2)):
            unique.append((batch, json.dumps(review_end_event(r["project_id"], phase_id)).encode()))
    values: list[tuple[int, bytes | None]] = list(unique)
    duplicates = 0
    while len(values) < plan.messages:
        batch, roll = rng.randrange(plan.batches), rng.random()
        if roll < 0.15:
            earlier = [v for b, v in unique if b <= batch]
            if earlier:
                values.append((batch, rng.choice(earlier)))
                duplicates += 1
                continue
        if roll < 0.65:
            r = rng.choice(rounds)
            phase = rng.choice(["Registration", "Submission", "Review", "Appeals"])
            state = "START" if phase == "Review" else rng.choice(["START", "END"])
            event = _phase_event(r["project_id"], rng.randrange(10**6), phase, state)
            values.append((batch, json.dumps(event).encode()))
        elif roll < 0.70:
            project = rng.choice([NON_MARATHON_PROJECT_ID, UNMAPPED_MARATHON_PROJECT_ID])
            values.append((batch, json.dumps(review_end_event(project, rng.randrange(10**6))).encode()))
        else:
            values.append((batch, _garbage(rng)))
    for i, (batch, value) in enumerate(values):
        steps[batch].messages.append((f"soak-{i:06d}".encode(), value))
    for step in steps:
        rng.shuffle(step.messages)

    campaigns = [f"soak-campaign-{c}" for c in range(plan.campaigns)]
    uploaded: list[tuple[str, bytes]] = []
    for f in range(plan.files):
        batch = min(plan.batches - 1, f * plan.batches // max(1, plan.files))
        if uploaded and rng.random() < 0.25:
            key, body = rng.choice(uploaded)
            # the same object uploaded again, or an earlier file's content under a new key
            upload = (key, body) if rng.random() < 0.5 else (f"scrubbed/soak-{f:03d}-replay.csv", body)
            duplicates += 1
        else:
            # the same member pool in every file, so verdicts and selections flip between files
            rows = plan.rows_per_file
            body = scored_file(rows, seed=plan.seed * 1000 + f, campaigns=campaigns, member_pool=0.8)
            upload = (f"scrubbed/soak-{f:03d}.csv", body)
        uploaded.append(upload)
        steps[batch].uploads.append(upload)
    return SoakInput(steps, rounds, campaigns, duplicates)


@dataclass
class SoakOutcome:
    snapshot: dict[str, Counter]
    daemon_kills: int
    broker_kills: int
    seconds: float
    slack_messages: int
    lost: list[str]
    stored_twice: list[str]
    unsettled: dict[str, int]  # inbox events and staged parts left in a non-final state, by status


def arena_lookups_env(url: str) -> dict[str, str]:
    """The Arena lookups (one stand-in for the three services) on a port of the test's own."""
    return {
        "MM_PLATFORM_ARENA_MULIGHETSROMMET_URL": url,
        "MM_PLATFORM_ARENA_ORDS_URL": url,
        "MM_PLATFORM_ARENA_AMT_TILTAK_URL": url,
    }


class EmbeddedStack:
    """A fresh embedded stack in `root` on free ports, with a daemon that can be killed."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        standins = f"http://127.0.0.1:{free_port()}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MM_PLATFORM_")},
            "MM_PLATFORM_STATE_DIR": str(root / "state"),
            "MM_PLATFORM_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "MM_PLATFORM_AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
            "MM_PLATFORM_VF_ENTRY_SERVICE_URL": standins,
            "MM_PLATFORM_VF_CAMPAIGN_SERVICE_URL": standins,
            "MM_PLATFORM_SCORING_SUBMISSION_API_URL": f"http://127.0.0.1:{free_port()}",
            **arena_lookups_env(f"http://127.0.0.1:{free_port()}"),
        }
        self.settings = Settings.from_env(self.env, sections=[MarathonSettings, VerifiedFanSettings])
        self.stack = Stack(self.settings, DOMAINS)
        self.log = root / "daemon.log"
        self.daemon: subprocess.Popen | None = None

    def up(self) -> None:
        self.stack.up()

    def start_daemon(self) -> None:
        env = {**dev_environment(self.settings), **self.env}
        daemon = str(Path(sys.executable).with_name("dagster-daemon"))
        with self.log.open("ab") as log:
            self.daemon = subprocess.Popen(
                [daemon, "run", "-w", str(REPO / "workspace.yaml")],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its code server and run workers share its process group
            )

    def kill_daemon(self) -> None:
        """SIGKILL to the daemon, its code server and every run worker, as a host crash would."""
        assert self.daemon is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.daemon.pid, signal.SIGKILL)
        self.daemon.wait(30)

    def kill_broker(self) -> None:
        pid = self.stack.recorded_pids()["tansu"]
        os.killpg(pid, signal.SIGKILL)
        while process_alive(pid):
            time.sleep(0.05)
        host, port = host_port(self.settings.kafka_bootstrap_servers)
        logs = self.settings.state_dir / "logs" / "tansu.log"
        restarted = start_tansu(host, port, logs, self.settings.aws_endpoint_url)  # its log is in S3
        self.stack.remember({"tansu": restarted.pid})

    def down(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            stop_process(self.daemon.pid, timeout=30)
        self.stack.down()


def seed_sources(stack: EmbeddedStack, data: SoakInput) -> None:
    EventInbox(engine_for(stack.settings.platform_db_url)).create_schema()
    with engine_for(stack.settings.oltp_db_url).begin() as conn:
        for r in data.rounds:
            insert_round(conn, coders=30, seed=r["round_id"], **r)
    vf = stack.settings.section(VerifiedFanSettings)
    service = CampaignService(base_url=vf.campaign_service_url)
    for campaign in data.campaigns:
        body = {"name": campaign, "artist": "Soak", "type": "verified-fan", "eventIds": ["e1", "e2", "e3"]}
        service.put_json(f"/campaigns/{campaign}", body)


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 60_000})
    failures: list[str] = []
    for key, value in messages:
        producer.produce(topic, key=key, value=value, on_delivery=lambda e, _m: e and failures.append(str(e)))
        producer.poll(0)
    remaining = producer.flush(90)
    if remaining or failures:
        raise RuntimeError(f"{remaining} messages not delivered, {len(failures)} failed: {failures[:3]}")


def _rows(url: str) -> Iterator[tuple[str, str]]:
    engine = engine_for(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if not volatile(c.name)]
            for row in conn.execute(select(*columns)):
                values = comparable(dict(zip([c.name for c in columns], row, strict=True)))
                yield table.name, json.dumps(values, default=str)


def _items(client: Any, table: str) -> Iterator[str]:
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            if item.get("recountWanted") == {"N": "0"}:
                del item["recountWanted"]  # a recount was asked for and done: settled, as never asked
            yield json.dumps(comparable(item), sort_keys=True, default=str)


def snapshot(stack: EmbeddedStack, data: SoakInput) -> tuple[dict[str, Counter], list[str], list[str]]:
    """What the platform holds, as multisets of comparable rows; and the lost and twice-stored keys."""
    s = stack.settings
    result: dict[str, Counter] = {}
    table = event_inbox
    with engine_for(s.platform_db_url).connect() as conn:
        rows = conn.execute(
            select(
                table.c.topic,
                table.c.message_key,
                table.c.source_ref,
                table.c.event_type,
                table.c.entity_key,
                table.c.dedup_key,
                table.c.status,
            )
        ).all()
    # which copy of a duplicated event runs and which is "duplicate of ..." depends on arrival order
    result["inbox"] = Counter(
        json.dumps(comparable([r.topic, r.source_ref, r.event_type, r.entity_key, r.dedup_key, r.status]))
        for r in rows
    )
    stored = Counter(r.message_key for r in rows if r.message_key and r.message_key.startswith("soak-"))
    produced = {key.decode() for step in data.steps for key, _ in step.messages}
    lost = sorted(produced - set(stored))
    stored_twice = sorted(k for k, n in stored.items() if n > 1)

    result["oltp"] = Counter(f"{t} {r}" for t, r in _rows(s.oltp_db_url))
    result["dw"] = Counter(f"{t} {r}" for t, r in _rows(s.dw_db_url))
    dynamodb = build_aws_resources(s)["dynamodb"].get_client()
    marathon = s.section(MarathonSettings)
    result["member stats"] = Counter(_items(dynamodb, marathon.member_stats_table))
    result["member history"] = Counter(_items(dynamodb, marathon.member_history_table))
    vf = s.section(VerifiedFanSettings)
    demand = Counter(i for i in _items(dynamodb, vf.demand_table) if '"meta:slack:' not in i)
    result["demand items"] = demand
    entries = EntryService(base_url=vf.entry_service_url)
    result["entry service"] = Counter(
        json.dumps([c, entries.get_json(f"/scoring/{c}").get("entries")]) for c in data.campaigns
    )
    return result, lost, stored_twice


def unsettled(stack: EmbeddedStack) -> dict[str, int]:
    """Inbox events, staged parts and member profiles left in a non-final state, by status."""
    counts = EventInbox(engine_for(stack.settings.platform_db_url)).counts()
    left = {
        f"events {status}": counts[status]
        for status in ("NEW", "RETRY", "WAITING", "FAILED")
        if status in counts
    }
    with engine_for(stack.settings.platform_db_url).connect() as conn:
        parts = conn.exec_driver_sql(
            "SELECT status, count(*) FROM vf_staged_part WHERE status <> 'APPLIED' GROUP BY status"
        ).all()
    left.update({f"parts {status}": n for status, n in parts})
    with engine_for(stack.settings.dw_db_url).connect() as conn:
        unindexed = len(profile_state.pending_index(conn))
    return {**left, "profiles not indexed": unindexed} if unindexed else left


def in_flight(instance: DagsterInstance) -> int:
    return len(instance.get_run_records(RunsFilter(statuses=IN_FLIGHT), limit=50))


def new_events(stack: EmbeddedStack) -> int:
    return EventInbox(engine_for(stack.settings.platform_db_url)).counts().get("NEW", 0)


def wait_until_quiet(stack: EmbeddedStack, data: SoakInput, plan: SoakPlan, deadline: float) -> None:
    """Until every produced message is stored, no event is NEW and no run is in flight, for
    `quiet_seconds` (several automation ticks, so its follow-up runs have been requested)."""
    instance = DagsterInstance.from_config(str(stack.settings.dagster_home))
    produced = data.events
    quiet_since: float | None = None
    try:
        while time.monotonic() < deadline:
            if stack.daemon is not None and stack.daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited ({stack.daemon.returncode}); see {stack.log}")
            stored = _stored_messages(stack)
            busy = stored < produced or new_events(stack) > 0 or in_flight(instance) > 0
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= plan.quiet_seconds:
                return
            time.sleep(1)
        raise TimeoutError(
            f"not quiet after {plan.timeout_seconds:.0f}s: {_stored_messages(stack)}/{produced} messages "
            f"stored, {new_events(stack)} NEW, {in_flight(instance)} runs in flight; see {stack.log}"
        )
    finally:
        instance.dispose()


def _stored_messages(stack: EmbeddedStack) -> int:
    with engine_for(stack.settings.platform_db_url).connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(DISTINCT message_key) FROM event_inbox WHERE message_key LIKE 'soak-%'"
        ).scalar_one()


def run_soak(plan: SoakPlan, data: SoakInput, root: Path, *, chaos: bool, say=print) -> SoakOutcome:
    """One run of the input on a fresh stack in `root`; with `chaos`, the kills of the plan."""
    rng = random.Random(plan.seed + (1 if chaos else 0))
    stack = EmbeddedStack(root)
    started = time.monotonic()
    deadline = started + plan.timeout_seconds
    kills = {"daemon": 0, "broker": 0}
    # which steps are followed by a daemon kill, and after which one the broker is killed
    kill_steps = Counter(rng.randrange(len(data.steps)) for _ in range(plan.daemon_kills if chaos else 0))
    broker_step = rng.randrange(len(data.steps)) if chaos and plan.broker_kill else None
    try:
        stack.up()
        seed_sources(stack, data)
        stack.start_daemon()
        topic = stack.settings.section(MarathonSettings).topics.autopilot
        bucket = stack.settings.section(VerifiedFanSettings).scoring_bucket
        s3 = build_aws_resources(stack.settings)["s3"].get_client()
        for index, step in enumerate(data.steps):
            produce(stack.settings.kafka_bootstrap_servers, topic, step.messages)
            for key, body in step.uploads:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            for _ in range(kill_steps[index]):
                time.sleep(rng.uniform(2, 15))  # somewhere in the tick, the run or the outcome it causes
                stack.kill_daemon()
                kills["daemon"] += 1
                say(f"  killed the daemon (kill {kills['daemon']}) after step {index + 1}")
                time.sleep(rng.uniform(0.5, 3))
                stack.start_daemon()
            if index == broker_step:
                time.sleep(rng.uniform(1, 8))
                stack.kill_broker()
                kills["broker"] += 1
                say(f"  killed the broker after step {index + 1}; restarted on its S3 log")
            time.sleep(rng.uniform(1, 4))
        wait_until_quiet(stack, data, plan, deadline)
        snap, lost, twice = snapshot(stack, data)
        slack = len(SlackNotifier(outbox_db_url=stack.settings.platform_db_url).outbox())
        seconds = time.monotonic() - started
        return SoakOutcome(
            snap, kills["daemon"], kills["broker"], seconds, slack, lost, twice, unsettled(stack)
        )
    finally:
        stack.down()


def mismatches(clean: SoakOutcome, chaos: SoakOutcome) -> dict[str, list[str]]:
    """Per part of the state, the rows one run has and the other has not (first few of each)."""
    found: dict[str, list[str]] = {}
    for part in clean.snapshot:
        only_clean = clean.snapshot[part] - chaos.snapshot[part]
        only_chaos = chaos.snapshot[part] - clean.snapshot[part]
        if only_clean or only_chaos:
            found[part] = [f"clean only: {r}" for r in list(only_clean.elements())[:5]] + [
                f"chaos only: {r}" for r in list(only_chaos.elements())[:5]
            ]
    return found
