"""An Arena replay: the three Arena topics from offset 0 into the ledger, then ledger runs and the
outbox relay until every row is settled and every output message is on its topic.

    .venv/bin/python benchmarks/arena_replay.py [--messages 1000000] [--gjennomforinger 10000]
        [--persons 50000] [--db-url URL] [--skip-e2e] [--profile 50000]

Generated input: the gjennomføringer (a supported TILTAKSKODE, valid), then tiltakdeltaker messages
(85 %: an I and then several U per deltaker id, increasing pos) and hist deltaker messages (15 %, op I,
a final status); person ids are drawn from a pool, so person lookups repeat within a run. Producing
is not measured. Measured:

- intake: the sensor's own tick (consume_batch with the settings' budget, to_ledger_event,
  record_batch) in a loop until every message is in the ledger;
- end to end: ledger runs (ArenaProcessor with the lookups stand-in in a thread of this process,
  person lookups cached per run) and the outbox relay until nothing is NEW and nothing is pending;
- the peak resident memory, and a cProfile of a slice (intake and a ledger run) on a fresh database.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _support import broker
from confluent_kafka import Producer
from dagster import build_sensor_context, instance_for_test

from mm_platform.arena.defs.sensors import build_arena_sensor, to_ledger_event
from mm_platform.arena.dev.lookups_standin import serving_in_thread
from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
)
from mm_platform.arena.rules.ledger import ArenaStatus
from mm_platform.arena.stores.ledger_run import process_ledger
from mm_platform.arena.stores.ledger_store import ArenaStore
from mm_platform.arena.stores.lookups import AmtTiltakApi, CachedOrds, MulighetsrommetApi, OrdsApi
from mm_platform.arena.stores.outbox import OutboxRelay
from mm_platform.arena.stores.processors import ArenaProcessor
from mm_platform.arena.stores.resources import ArenaResource
from mm_platform.core.devstack import free_port, stop_process, wait_for_port
from mm_platform.core.inbox import EventInbox, InboxResource, utcnow
from mm_platform.core.kafka import KafkaResource
from mm_platform.core.sensors import KafkaCursor
from mm_platform.core.sql import engine_for
from mm_platform.domains import load_settings

PARTITIONS = 3
U_PER_DELTAKER = (2, 6)  # updates after the I of a deltaker id, drawn uniformly


# ---- input ----------------------------------------------------------------------------------------


def gjennomforing(arena_id: int) -> dict[str, Any]:
    return {
        "TILTAKGJENNOMFORING_ID": arena_id,
        "SAK_ID": 11_000_000 + arena_id,
        "TILTAKSKODE": "INDOPPFAG",
        "ANTALL_DELTAKERE": 20,
        "DATO_FRA": "2024-01-03 00:00:00",
        "DATO_TIL": "2030-06-30 00:00:00",
        "REG_DATO": "2023-12-21 08:22:07",
        "REG_USER": "USR1234",
        "MOD_DATO": "2023-12-21 08:47:25",
        "MOD_USER": "USR1234",
        "LOKALTNAVN": f"Oppfølging {arena_id}",
        "TILTAKSTATUSKODE": "GJENNOMFOR",
        "PROSENT_DELTID": 100,
        "ARBGIV_ID_ARRANGOR": 272588,
        "AKTIVITET_ID": 124_974_642,
        "AETAT_FREMMOTEREG": "0136",
        "AETAT_KONTERINGSSTED": "0136",
        "VURDERING_GJENNOMFORING": "Vurdering",
        "PROFILELEMENT_ID_OPPL_TILTAK": 91893,
        "MAALFORM_KRAVBREV": "NO",
    }


def deltaker(
    id_field: str, arena_id: int, person_id: int, gjennomforing_id: int, **changes: Any
) -> dict[str, Any]:
    payload = {
        id_field: arena_id,
        "PERSON_ID": person_id,
        "TILTAKGJENNOMFORING_ID": gjennomforing_id,
        "DELTAKERSTATUSKODE": "GJENN",
        "DELTAKERTYPEKODE": "INNSOKT",
        "AARSAKVERDIKODE_STATUS": None,
        "BEGRUNNELSE_INNSOKT": "Syntetisert rettighet",
        "REG_DATO": "2024-01-11 11:00:40",
        "REG_USER": "USR1234",
        "MOD_DATO": "2024-01-11 11:00:40",
        "MOD_USER": "USR1234",
        "DATO_FRA": "2024-03-02 00:00:00",
        "DATO_TIL": "2029-12-31 00:00:00",
        "PROSENT_DELTID": 40,
        "BRUKERID_STATUSENDRING": "USR1234",
        "DATO_STATUSENDRING": "2024-01-11 11:00:40",
        "AKTIVITET_ID": 9_876_453,
        "BEGRUNNELSE_BESTILLING": None,
        "ANTALL_DAGER_PR_UKE": None,
    }
    payload.update(changes)
    return payload


def envelope(table: str, op_type: str, pos: int, after: dict[str, Any]) -> bytes:
    document = {
        "table": table,
        "op_type": op_type,
        "op_ts": "2024-01-12 00:00:06.000000",
        "current_ts": "2024-01-12 00:00:08.365000",
        "pos": str(pos).zfill(20),
        "before": None,
        "after": after,
    }
    return json.dumps(document).encode()


def generate(
    total: int, n_gjennomforinger: int, n_persons: int, seed: int = 7
) -> Iterator[tuple[str, bytes, bytes]]:
    """(table, key, value), `total` messages in all, made as they are produced (the replay is never
    held in memory); the key is the Arena id, so one id's messages stay in one partition in pos
    order."""
    rng = random.Random(seed)
    n_gjennomforinger = min(n_gjennomforinger, total)
    rest = total - n_gjennomforinger
    n_hist = rest * 15 // 100
    n_deltaker = rest - n_hist
    pos = 50_000_000_000
    for g in range(1, n_gjennomforinger + 1):
        pos += 1
        yield (
            TILTAKGJENNOMFORING_TABLE,
            str(g).encode(),
            envelope(TILTAKGJENNOMFORING_TABLE, "I", pos, gjennomforing(g)),
        )
    deltaker_id = 0
    produced = 0
    while produced < n_deltaker:
        deltaker_id += 1
        person, gjf = rng.randint(1, n_persons), rng.randint(1, max(n_gjennomforinger, 1))
        updates = min(rng.randint(*U_PER_DELTAKER) + 1, n_deltaker - produced)
        for i in range(updates):
            pos += 1
            payload = deltaker(
                "TILTAKDELTAKER_ID", deltaker_id, person, gjf, MOD_DATO=f"2024-02-{1 + i % 28:02d} 10:00:00"
            )
            operation = "I" if i == 0 else "U"
            yield (
                TILTAKDELTAKER_TABLE,
                str(deltaker_id).encode(),
                envelope(TILTAKDELTAKER_TABLE, operation, pos, payload),
            )
        produced += updates
    for h in range(1, n_hist + 1):
        pos += 1
        person, gjf = rng.randint(1, n_persons), rng.randint(1, max(n_gjennomforinger, 1))
        payload = deltaker(
            "HIST_TILTAKDELTAKER_ID",
            h,
            person,
            gjf,
            DELTAKERSTATUSKODE="FULLF",
            DATO_TIL="2024-06-30 00:00:00",
            DATO_STATUSENDRING="2024-07-01 09:00:00",
        )
        yield (
            HIST_TILTAKDELTAKER_TABLE,
            str(h).encode(),
            envelope(HIST_TILTAKDELTAKER_TABLE, "I", pos, payload),
        )


def publish(
    bootstrap: str, topic_of: dict[str, str], messages: Iterator[tuple[str, bytes, bytes]]
) -> dict[str, int]:
    """Produce the messages as they are made; how many went to each table's topic."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
        }
    )
    failures: list[str] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    sizes: dict[str, int] = {}
    for table, key, value in messages:
        sizes[table] = sizes.get(table, 0) + 1
        while True:
            try:
                producer.produce(topic_of[table], value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    remaining = producer.flush(120)
    assert not remaining and not failures, f"produce failed: {remaining} queued, {failures[:1]}"
    return sizes


# ---- the pieces ----------------------------------------------------------------------------------


def arena_resource(suffix: str) -> ArenaResource:
    return ArenaResource(
        gjennomforing_topic=f"arena.gjennomforing.{suffix}",
        deltaker_topic=f"arena.deltaker.{suffix}",
        hist_deltaker_topic=f"arena.hist.{suffix}",
        amt_topic=f"amt.tiltak.{suffix}",
        enkeltplass_topic=f"amt.enkeltplass.{suffix}",
    )


def intake_ticks(kafka: KafkaResource, arena: ArenaResource, db_url: str, expected: int) -> tuple[float, int]:
    """The sensor's tick, evaluated in a loop until `expected` messages are in the ledger."""
    settings = load_settings()  # MM_PLATFORM_SENSOR_MAX_MESSAGES etc. from the environment
    sensor = build_arena_sensor(settings, arena.input_topics)
    inbox = InboxResource(database_url=db_url)
    topics = arena.input_topics
    cursor, ticks = None, 0
    with instance_for_test() as instance:
        start = time.perf_counter()
        while True:
            context = build_sensor_context(
                instance=instance, cursor=cursor, resources={"kafka": kafka, "inbox": inbox}
            )
            result = sensor.evaluate_tick(context)
            cursor, ticks = result.cursor, ticks + 1
            offsets = KafkaCursor.parse(cursor).offsets
            if sum(sum(offsets.get(t, {}).values()) for t in topics) >= expected:
                break
        elapsed = time.perf_counter() - start
    return elapsed, ticks


def intake_direct(kafka: KafkaResource, arena: ArenaResource, db_url: str, expected: int) -> dict[str, float]:
    """The tick's three calls without Dagster, each timed; stops once `expected` messages are read."""
    settings = load_settings()  # MM_PLATFORM_SENSOR_MAX_MESSAGES etc. from the environment
    inbox = InboxResource(database_url=db_url).get_inbox()
    offsets: dict[str, dict[int, int]] = {}
    times = {"consume_batch": 0.0, "to_ledger_event": 0.0, "record_batch": 0.0}
    read = 0
    while read < expected:
        t0 = time.perf_counter()
        records, offsets = kafka.consume_batch(
            arena.input_topics,
            offsets,
            max_messages=min(settings.sensor_max_messages, expected - read),
            max_seconds=settings.sensor_max_seconds,
        )
        t1 = time.perf_counter()
        events = [to_ledger_event(r) for r in records]
        t2 = time.perf_counter()
        inbox.record_batch(events)
        t3 = time.perf_counter()
        times["consume_batch"] += t1 - t0
        times["to_ledger_event"] += t2 - t1
        times["record_batch"] += t3 - t2
        read += len(records)
        if not records:
            break
    times["messages"] = read
    return times


def ledger_until_done(
    arena: ArenaResource, kafka: KafkaResource, db_url: str, lookups_url: str, lookup_workers: int
) -> dict[str, Any]:
    """Ledger runs and relays, as the job does, until nothing is NEW and no outbox row is pending."""
    store = ArenaStore.open(engine_for(db_url))
    relay = OutboxRelay(store, kafka)
    totals: dict[str, Any] = {
        "runs": 0,
        "process": 0.0,
        "relay": 0.0,
        "person lookups": 0,
        "person cache hits": 0,
        "published": 0,
    }
    by_status: dict[str, int] = {}
    while True:
        now = time.perf_counter()
        ords = CachedOrds(OrdsApi(base_url=lookups_url, retries=0))
        processor = ArenaProcessor(
            store,
            MulighetsrommetApi(base_url=lookups_url, retries=0),
            ords,
            AmtTiltakApi(base_url=lookups_url, retries=0),
            arena.output_topics,
            arena.local_now(),
            lookup_workers=lookup_workers,
        )
        stats = process_ledger(
            store, processor, arena.input_topics, now=utcnow(), batch_size=arena.batch_size
        )
        t1 = time.perf_counter()
        relay.relay([arena.amt_topic, arena.enkeltplass_topic])
        t2 = time.perf_counter()
        totals["runs"] += 1
        totals["process"] += t1 - now
        totals["relay"] += t2 - t1
        totals["person lookups"] += ords.misses
        totals["person cache hits"] += ords.hits
        totals["published"] += stats.published
        for s, n in stats.by_status.items():
            by_status[s] = by_status.get(s, 0) + n
        counts = store.status_counts(arena.input_topics)
        new = sum(c.get(ArenaStatus.NEW.value, 0) for c in counts.values())
        if (not new and not relay.store.pending_outbox_count()) or totals["runs"] >= 5:
            break
    totals["by_status"] = by_status
    totals["ledger"] = store.status_counts(arena.input_topics)
    return totals


def profiled(label: str, call: Callable[[], Any], top: int) -> Any:
    profile = cProfile.Profile()
    result = profile.runcall(call)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
    stats.print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    print(f"\n-- profile: {label} (top {top} by cumulative time) --")
    for line in lines[start : start + top + 1]:
        print("  " + line[:150])
    return result


@contextmanager
def lookups(where: str) -> Iterator[str]:
    """The lookups stand-in, its data in memory; in its own process by default, since in production
    the lookups are other teams' services whose work is not the ACL's."""
    if where == "thread":
        with serving_in_thread(":memory:") as url:
            yield url
        return
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mm_platform.arena.dev.lookups_standin",
            "--port",
            str(port),
            "--db",
            ":memory:",
        ],
        start_new_session=True,
    )
    try:
        wait_for_port("127.0.0.1", port, "the lookups stand-in", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process.pid)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--gjennomforinger", type=int, default=10_000)
    parser.add_argument("--persons", type=int, default=50_000, help="size of the person id pool")
    parser.add_argument("--db-url", default=None, help="the ledger database (default: a SQLite file)")
    parser.add_argument("--skip-e2e", action="store_true", help="measure the intake only")
    parser.add_argument(
        "--profile", type=int, default=50_000, help="messages in the profiled slice (0: none)"
    )
    parser.add_argument("--top", type=int, default=25, help="profile lines to print")
    parser.add_argument(
        "--standin",
        choices=["process", "thread"],
        default="process",
        help="the lookups stand-in in its own process (another team's service) or in a thread of this one",
    )
    parser.add_argument("--lookup-workers", type=int, default=8, help="person lookups in flight at once")
    args = parser.parse_args()
    n = args.messages

    with broker() as bootstrap, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kafka = KafkaResource(bootstrap_servers=bootstrap)
        arena = arena_resource(uuid.uuid4().hex[:8])
        kafka.create_topics(
            {t: PARTITIONS for t in (*arena.input_topics, arena.amt_topic, arena.enkeltplass_topic)}
        )
        t0 = time.perf_counter()
        topic_of = dict(
            zip(
                (TILTAKGJENNOMFORING_TABLE, TILTAKDELTAKER_TABLE, HIST_TILTAKDELTAKER_TABLE),
                arena.input_topics,
                strict=True,
            )
        )
        produced = publish(bootstrap, topic_of, generate(n, args.gjennomforinger, args.persons))
        sizes = {table.split(".")[1].lower(): count for table, count in produced.items()}
        print(f"generated and produced {sizes} in {time.perf_counter() - t0:.1f} s (not measured)")

        db_url = args.db_url or f"sqlite:///{tmp}/arena.db"
        ArenaStore.open(engine_for(db_url))
        intake, ticks = intake_ticks(kafka, arena, db_url, n)
        stored = sum(EventInbox(engine_for(db_url)).counts().values())
        print(f"intake: {ticks} sensor ticks, ledger rows {stored}")
        assert stored >= n, f"the ledger holds {stored} of {n} messages"
        rss_intake = max_rss_mb()

        e2e = None
        # in memory: the stand-in keeps a request log, whose disk writes are not the ACL's cost
        with lookups(args.standin) as lookups_url:
            if not args.skip_e2e:
                t3 = time.perf_counter()
                e2e = ledger_until_done(arena, kafka, db_url, lookups_url, args.lookup_workers)
                e2e["elapsed"] = time.perf_counter() - t3
            rss_e2e = max_rss_mb()

            if args.profile:
                slice_n = min(args.profile, n)
                slice_db = f"sqlite:///{tmp}/slice.db"
                ArenaStore.open(engine_for(slice_db))
                direct = profiled(
                    "intake, the tick's three calls",
                    lambda: intake_direct(kafka, arena, slice_db, slice_n),
                    args.top,
                )
                if not args.skip_e2e:
                    slice_arena = arena_resource_with_outputs(arena)
                    kafka.create_topics(
                        {slice_arena.amt_topic: PARTITIONS, slice_arena.enkeltplass_topic: PARTITIONS}
                    )
                    profiled(
                        "ledger run + relay",
                        lambda: ledger_until_done(
                            slice_arena, kafka, slice_db, lookups_url, args.lookup_workers
                        ),
                        args.top,
                    )

    print()
    print(f"messages                    {n}  ({sizes})")
    print(f"intake (sensor ticks)       {intake:8.2f} s  {n / intake:10.0f} msg/s  (target >= 50,000)")
    if args.profile:
        parts = sum(direct[k] for k in ("consume_batch", "to_ledger_event", "record_batch"))
        m = direct["messages"]
        print(
            f"intake slice, direct calls  {parts:8.2f} s  {m / parts:10.0f} msg/s"
            f" over {m:.0f} messages under cProfile: "
            + ", ".join(
                f"{k} {direct[k]:.2f} s" for k in ("consume_batch", "to_ledger_event", "record_batch")
            )
        )
    if e2e is not None:
        print(
            f"ledger runs + relay         {e2e['elapsed']:8.2f} s  {n / e2e['elapsed']:10.0f} msg/s  "
            f"({e2e['runs']} run(s): process {e2e['process']:.1f} s, relay {e2e['relay']:.1f} s)"
        )
        total = intake + e2e["elapsed"]
        print(f"end to end (intake + runs)  {total:8.2f} s  {n / total:10.0f} msg/s  (target >= 5,000)")
        print(
            f"settled {e2e['by_status']}; published {e2e['published']}; "
            f"person lookups {e2e['person lookups']} "
            f"(+{e2e['person cache hits']} from the run's cache)"
        )
        print(f"ledger by topic and status  {json.dumps(e2e['ledger'])}")
    print(f"memory peak (ru_maxrss)     {rss_intake:8.0f} MB after intake, {rss_e2e:.0f} MB after the runs")


def arena_resource_with_outputs(arena: ArenaResource) -> ArenaResource:
    """The same input topics, fresh output topics: the profiled slice does not add to the measured run's."""
    suffix = uuid.uuid4().hex[:8]
    return ArenaResource(
        gjennomforing_topic=arena.gjennomforing_topic,
        deltaker_topic=arena.deltaker_topic,
        hist_deltaker_topic=arena.hist_deltaker_topic,
        amt_topic=f"amt.tiltak.{suffix}",
        enkeltplass_topic=f"amt.enkeltplass.{suffix}",
    )


if __name__ == "__main__":
    main()
