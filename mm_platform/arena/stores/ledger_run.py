"""One processing run over the ledger (spec §3, with §10's back-off): NEW rows first, then the RETRY
rows that are due, then (nightly) the FAILED rows; each status a table at a time in the original's
order (gjennomføringer, deltakere, hist deltakere) and within a table in pos order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mm_platform.arena.rules.ledger import ArenaStatus, retry_due
from mm_platform.arena.stores.ledger_store import ArenaStore
from mm_platform.arena.stores.processors import ArenaProcessor, RunStats


def process_ledger(
    store: ArenaStore,
    processor: ArenaProcessor,
    topics: Sequence[str],
    *,
    now: dt.datetime,
    batch_size: int,
    include_failed: bool = False,
) -> RunStats:
    seen: set[int] = set()  # a row settled RETRY by this run waits for the next run, not this one
    phases = [ArenaStatus.NEW, ArenaStatus.RETRY] + ([ArenaStatus.FAILED] if include_failed else [])
    for status in phases:
        for topic in topics:
            after_key = ""
            while True:
                page, last_key = store.page(topic, [status], after_key, batch_size)
                if last_key is None:
                    break
                after_key = last_key
                due = [
                    e
                    for e in page  # in pos order
                    if e.id not in seen
                    and (status is not ArenaStatus.RETRY or retry_due(e.attempts, e.last_attempted, now))
                ]
                seen.update(e.id for e in due)
                processor.process_page(due)
    return processor.stats


def due_work(store: ArenaStore, topics: Sequence[str], now: dt.datetime) -> int:
    """How many rows a run would process now (NEW, or RETRY and due): the retry schedule's question,
    asked without reading a single payload (a replay leaves a million NEW rows)."""
    counts = store.status_counts(topics)
    new = sum(by_status.get(ArenaStatus.NEW.value, 0) for by_status in counts.values())
    return new + sum(1 for attempts, last in store.retry_timings(topics) if retry_due(attempts, last, now))
