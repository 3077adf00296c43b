"""The three processors (spec §4, §5, §6): one ledger row in, its next status out.

Each row is processed in one transaction that also holds what it wrote (gjennomføring, translations,
deltaker, outbox rows) and its new status, so a crash leaves either all of it or none. A processor
ends a row with an `Outcome` (the original's exception classes); `rules/ledger.py` turns that into
the status on the live path (a NEW row) or the retry path (RETRY / FAILED rows). A lookup that fails
(5xx, timeout, connection refused) rolls the row's writes back and ends it as ERROR, i.e. RETRY.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, StatementError

from mm_platform.arena.rules.deltaker import (
    Codes,
    DeltakerInvalid,
    is_external,
    matching,
    to_amt_deltaker,
    validate,
)
from mm_platform.arena.rules.dependencies import KnownGjennomforing, gjennomforing_verdict
from mm_platform.arena.rules.envelope import (
    HIST_TILTAKDELTAKER_TABLE,
    TILTAKDELTAKER_TABLE,
    TILTAKGJENNOMFORING_TABLE,
    Operation,
)
from mm_platform.arena.rules.ledger import (
    ArenaStatus,
    Outcome,
    earlier_unhandled,
    earlier_unhandled_note,
    live_status,
    retry_status,
)
from mm_platform.arena.rules.output import (
    FEILREGISTRERT,
    AmtDeltaker,
    amt_envelope,
    enkeltplass_value,
    message_key,
    serialize,
)
from mm_platform.arena.rules.payloads import (
    ArenaDeltaker,
    ArenaGjennomforing,
    ArenaHistDeltaker,
    ArenaPayloadError,
)
from mm_platform.arena.rules.tiltak import GjennomforingFlags, MulighetsrommetAnswerError, is_supported
from mm_platform.arena.stores.ledger_store import ArenaStore, LedgerEntry, PageWrites
from mm_platform.arena.stores.lookups import AmtTiltakApi, CachedOrds, MulighetsrommetApi
from mm_platform.core.inbox import is_data_error
from mm_platform.core.services import ServiceError

# how many of the retry job's attempts a delete waits for the hist message before FEILREGISTRERT (§5.10)
DELETE_WAITS_FOR_HIST = 2


class Stop(Exception):
    """Ends the processing of one row with an outcome and a note."""

    def __init__(self, outcome: Outcome, note: str) -> None:
        super().__init__(note)
        self.outcome = outcome
        self.note = note


@dataclass(frozen=True)
class OutputTopics:
    amt: str
    enkeltplass: str
    deltaker: str  # the input topics whose WAITING rows a valid gjennomføring re-queues
    hist: str


@dataclass
class RunStats:
    """What one processing run did, for the materialization's metadata."""

    by_status: Counter = field(default_factory=Counter)
    published: int = 0
    mr_lookups: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {
            **{f"settled {s.lower()}": n for s, n in sorted(self.by_status.items())},
            "rows processed": sum(self.by_status.values()),
            "messages to publish": self.published,
            "mulighetsrommet v2 lookups": self.mr_lookups,
        }


class ArenaProcessor:
    """Processes ledger rows one at a time. Make one per run: it caches Mulighetsrommet's answers and
    the person lookups for the run (a replay meets the same gjennomføring and person many times)."""

    def __init__(
        self,
        store: ArenaStore,
        mulighetsrommet: MulighetsrommetApi,
        ords: CachedOrds,
        amt_tiltak: AmtTiltakApi,
        topics: OutputTopics,
        local_now: dt.datetime,
        lookup_workers: int = 8,
    ) -> None:
        self.store = store
        self.mulighetsrommet = mulighetsrommet
        self.ords = ords
        self.amt_tiltak = amt_tiltak
        self.topics = topics
        self.local_now = local_now  # Arena's local time, naive: "today" and the envelope timestamp
        self.stats = RunStats()
        self.lookup_workers = lookup_workers
        self._flags: dict[uuid.UUID, GjennomforingFlags] = {}
        # what this run read or wrote of the gjennomføring and translation tables (one ledger run at
        # a time writes them); forgotten whenever a transaction is rolled back
        self._gjennomforinger: dict[str, KnownGjennomforing | None] = {}
        self._amt_ids: dict[tuple[str, str], uuid.UUID] = {}

    def _handler(self, entry: LedgerEntry) -> Callable[[Connection, LedgerEntry, PageWrites], str | None]:
        return {
            TILTAKGJENNOMFORING_TABLE: self._gjennomforing,
            TILTAKDELTAKER_TABLE: self._deltaker,
            HIST_TILTAKDELTAKER_TABLE: self._hist,
        }[entry.table]

    def process(self, entry: LedgerEntry) -> None:
        """One row in its own transaction."""
        self.process_page([entry])

    def process_page(self, entries: Sequence[LedgerEntry]) -> None:
        """Process rows in one transaction: one commit per page instead of one per row. Every way a
        processor ends normally (HANDLED or a Stop) is settled inside it. A row that raises (a lookup
        failing, a value the database refuses) rolls the page back: the rows before it are processed
        again one at a time (their lookups are cached), the row is settled with its failure without
        being tried twice, and the rest goes on as a page; so each row's writes stay all or nothing
        and the statuses are the ones row-by-row processing gives."""
        self._prefetch_persons(entries)
        start = 0
        while start < len(entries):
            failed = self._try_page(entries[start:])
            if failed is None:
                return
            index, error = failed
            for entry in entries[start : start + index]:
                self.process(entry)
            if start + index < len(entries):  # else the commit itself failed: all redone above
                self._settle_failure(entries[start + index], error)
            start += index + 1

    def _try_page(self, entries: Sequence[LedgerEntry]) -> tuple[int, Exception] | None:
        """Settle `entries` in one transaction; on an exception, roll back and say which row raised."""
        settled: Counter = Counter()
        done = 0
        try:
            with self.store.engine.begin() as conn:
                writes = PageWrites(conn)
                for entry in entries:
                    try:
                        outcome, note = Outcome.HANDLED, self._handler(entry)(conn, entry, writes)
                    except Stop as stop:  # outbox rows are only added after a processor's last Stop
                        outcome, note = stop.outcome, stop.note
                    settled[self._settle(writes, entry, outcome, note).value] += 1
                    done += 1
                writes.flush()
        except Exception as error:
            if isinstance(error, DBAPIError) and not is_data_error(error):
                raise  # the database is down: the run fails and the rows stay as they were
            self._forget_written()
            return done, error
        self.stats.by_status.update(settled)
        self.stats.published += writes.outbox_rows
        return None

    def _settle_failure(self, entry: LedgerEntry, error: Exception) -> None:
        outcome, reason = _failure(error)  # the row's writes were rolled back
        with self.store.engine.begin() as conn:
            writes = PageWrites(conn)
            self.stats.by_status[self._settle(writes, entry, outcome, reason).value] += 1
            writes.flush()

    def _prefetch_persons(self, entries: Sequence[LedgerEntry]) -> None:
        """The page's new person ids looked up `lookup_workers` at a time before the page runs: one
        by one, a replay's person lookups wait on ORDS in turn. A failed lookup is the first asking
        row's error (CachedOrds.prefetch)."""
        if len(entries) > 1:
            person_ids = {
                entry.data.get("PERSON_ID")
                for entry in entries
                if entry.table in (TILTAKDELTAKER_TABLE, HIST_TILTAKDELTAKER_TABLE)
            }
            person_ids.discard(None)
            self.ords.prefetch(person_ids, self.lookup_workers)

    def _forget_written(self) -> None:
        self._gjennomforinger.clear()
        self._amt_ids.clear()

    def _known_gjennomforing(self, conn: Connection, arena_id: str) -> KnownGjennomforing | None:
        if arena_id not in self._gjennomforinger:
            self._gjennomforinger[arena_id] = self.store.gjennomforing(conn, arena_id)
        return self._gjennomforinger[arena_id]

    def _amt_id_or_new(self, conn: Connection, table: str, arena_id: str) -> uuid.UUID:
        key = (table, arena_id)
        if key not in self._amt_ids:
            self._amt_ids[key] = self.store.amt_id_or_new(conn, table, arena_id)
        return self._amt_ids[key]

    def _settle(
        self, writes: PageWrites, entry: LedgerEntry, outcome: Outcome, note: str | None
    ) -> ArenaStatus:
        if entry.status is ArenaStatus.NEW:
            status = live_status(outcome)
            writes.settle(entry.id, status, note)
        else:
            decision = retry_status(entry.status, entry.attempts, outcome)
            status = decision.status
            writes.settle(
                entry.id, status, note, attempts=decision.attempts, attempted=decision.counts_attempt
            )
        return status

    # ---- §4 gjennomføring --------------------------------------------------------------------------

    def _gjennomforing(self, conn: Connection, entry: LedgerEntry, _writes: PageWrites) -> str | None:
        record = _read(ArenaGjennomforing, entry)
        self.store.upsert_gjennomforing(conn, record.arena_id, record.tiltakskode, record.is_valid)
        self._gjennomforinger.pop(record.arena_id, None)  # read again: the first tiltakskode stays
        if not is_supported(record.tiltakskode):
            # the original writes no ledger row at all (§4.3); here it is IGNORED and deleted within the hour
            raise Stop(Outcome.IGNORED, f"Tiltakskode {record.tiltakskode} støttes ikke")
        try:
            mr_id = self.mulighetsrommet.gjennomforing_id(record.arena_id)
        except ServiceError:
            mr_id = None  # swallowed as in the original: the deltakere ask again
        if mr_id is not None:
            self.store.set_mr_id(conn, record.arena_id, mr_id)
            self._gjennomforinger.pop(record.arena_id, None)
        notes = [] if record.is_valid else [f"ugyldig: {record.invalid_reason}"]
        if record.is_valid:
            requeued = self.store.requeue_waiting(
                conn, [self.topics.deltaker, self.topics.hist], record.arena_id
            )
            if requeued:
                notes.append(f"{requeued} ventende deltaker(e) satt til RETRY")
        return "; ".join(notes) or None

    def _resolve_gjennomforing(self, conn: Connection, gjennomforing_id: str) -> GjennomforingFlags:
        known = self._known_gjennomforing(conn, gjennomforing_id)
        mr_id = known.mr_id if known is not None else None
        if known is not None and mr_id is None and is_supported(known.tiltak_kode) and known.is_valid:
            mr_id = self.mulighetsrommet.gjennomforing_id(gjennomforing_id)
            if mr_id is not None:
                self.store.set_mr_id(conn, gjennomforing_id, mr_id)
                self._gjennomforinger[gjennomforing_id] = replace(known, mr_id=mr_id)
        verdict = gjennomforing_verdict(gjennomforing_id, known, mr_id)
        if not verdict.ready:
            raise Stop(verdict.outcome, verdict.note or "")  # type: ignore[arg-type]
        assert mr_id is not None
        if mr_id not in self._flags:
            self.stats.mr_lookups += 1
            self._flags[mr_id] = GjennomforingFlags.from_mr_v2(self.mulighetsrommet.gjennomforing(mr_id))
        return self._flags[mr_id]

    def _person_ident(self, person_id: int) -> str:
        fnr = self.ords.fnr(person_id)
        if fnr is None:
            raise Stop(Outcome.INVALID, "Arena mangler personlig ident")
        return fnr

    def _publish(
        self,
        entry: LedgerEntry,
        deltaker: AmtDeltaker,
        operation: Operation,
        flags: GjennomforingFlags,
        writes: PageWrites,
        *,
        enkeltplass_topic: bool = True,
    ) -> None:
        if flags.enkeltplass and enkeltplass_topic:
            topic, value = self.topics.enkeltplass, enkeltplass_value(deltaker)
        else:
            topic, value = self.topics.amt, amt_envelope(deltaker, operation, uuid.uuid4(), self.local_now)
        writes.add_outbox(entry.id, topic, message_key(deltaker), serialize(value))

    # ---- §5 deltaker -----------------------------------------------------------------------------------

    def _deltaker(self, conn: Connection, entry: LedgerEntry, writes: PageWrites) -> str | None:
        record = _read(ArenaDeltaker, entry)
        flags = self._resolve_gjennomforing(conn, str(record.tiltakgjennomforing_id))
        self._external_guard(conn, record)
        codes = _validated(record)
        person_ident = self._person_ident(record.person_id)  # type: ignore[arg-type]
        amt_id = self._amt_id_or_new(conn, TILTAKDELTAKER_TABLE, record.arena_id)
        deltaker = to_amt_deltaker(amt_id, record, codes, flags, person_ident, self.local_now.date())
        blocking = earlier_unhandled(
            self.store.history(conn, entry.topic, TILTAKDELTAKER_TABLE, record.arena_id, writes.statuses),
            entry.pos,
        )
        if blocking is not None:
            raise Stop(Outcome.DEPENDENCY_NOT_INGESTED, earlier_unhandled_note(record.arena_id))
        if entry.operation is not Operation.DELETED:
            self._publish(entry, deltaker, entry.operation, flags, writes)
            self.store.upsert_deltaker(conn, record)
            return None
        if self.store.hist_translation(conn, amt_id=str(amt_id)) is not None:
            self.store.upsert_deltaker(conn, record)
            return "Slettes ikke fordi deltaker ble historisert"
        if entry.attempts < DELETE_WAITS_FOR_HIST:
            raise Stop(
                Outcome.DEPENDENCY_NOT_INGESTED,
                f"Venter på historisering av deltaker med id={record.arena_id} før sletting",
            )
        self._publish(entry, deltaker.as_feilregistrert(), Operation.MODIFIED, flags, writes)
        self.store.upsert_deltaker(conn, record, status=FEILREGISTRERT)
        return "Slettet i Arena uten historisering: publisert som FEILREGISTRERT"

    def _external_guard(self, conn: Connection, record: ArenaDeltaker) -> None:
        if record.ekstern_id:
            _require_uuid(record.ekstern_id)
            known = self.store.translation_of(conn, record.ekstern_id)
            if known is None:
                self.store.add_translation(conn, record.ekstern_id, TILTAKDELTAKER_TABLE, record.arena_id)
            elif known != (TILTAKDELTAKER_TABLE, record.arena_id):
                raise Stop(
                    Outcome.INVALID,
                    f"EKSTERN_ID {record.ekstern_id} tilhører allerede arena id {known[1]}",
                )
            raise Stop(Outcome.EXTERNAL_SOURCE, f"Deltaker har EKSTERN_ID {record.ekstern_id}")
        if is_external(record):
            raise Stop(Outcome.EXTERNAL_SOURCE, "Deltaker har DELTAKERTYPEKODE EKSTERN")

    # ---- §6 hist deltaker --------------------------------------------------------------------------

    def _hist(self, conn: Connection, entry: LedgerEntry, writes: PageWrites) -> str | None:
        record = _read(ArenaHistDeltaker, entry)
        flags = self._resolve_gjennomforing(conn, str(record.tiltakgjennomforing_id))
        self._hist_external_guard(conn, record)
        if entry.operation is not Operation.CREATED:
            raise Stop(Outcome.IGNORED, f"Hist-deltaker med operasjon {entry.operation.value} håndteres ikke")
        codes = _validated(record)
        person_ident = self._person_ident(record.person_id)  # type: ignore[arg-type]
        if record.dato_statusendring is None:
            raise Stop(Outcome.INVALID, "DATO_STATUSENDRING mangler: hist-deltaker kan ikke matches")
        matches = matching(
            self.store.deltakere_of(conn, record.person_id, record.tiltakgjennomforing_id),  # type: ignore[arg-type]
            record,
        )
        if len(matches) > 1:
            raise Stop(
                Outcome.NOT_IMPLEMENTED,
                f"Fant {len(matches)} deltakere som matcher hist-deltaker {record.arena_id}",
            )
        if not matches:
            known = self.store.hist_translation(conn, hist_id=record.arena_id)
            if known is not None:
                amt_id = uuid.UUID(known.amt_id)
            else:
                amt_id = uuid.uuid4()
                self.store.add_hist_translation(conn, str(amt_id), record.arena_id, None)
            deltaker = self._historic(amt_id, record, codes, flags, person_ident)
            self._publish(entry, deltaker, Operation.CREATED, flags, writes, enkeltplass_topic=False)
            return "Fant match? false"
        match = matches[0]
        amt_id = self.store.amt_id(conn, TILTAKDELTAKER_TABLE, match.arena_id)
        if amt_id is None:
            raise Stop(Outcome.INVALID, f"Fant ikke amt-id for deltaker {match.arena_id}")
        deltakelse = next(
            (d for d in self.amt_tiltak.deltakelser(person_ident) if str(d.get("id")) == str(amt_id)), None
        )
        if deltakelse is None:
            raise Stop(Outcome.INVALID, f"amt-tiltak kjenner ikke deltakelse {amt_id}")
        self.store.add_hist_translation(conn, str(amt_id), record.arena_id, match.arena_id)
        if deltakelse.get("status") == FEILREGISTRERT:
            deltaker = self._historic(amt_id, record, codes, flags, person_ident)
            self._publish(entry, deltaker, Operation.MODIFIED, flags, writes, enkeltplass_topic=False)
        return "Fant match? true"

    def _historic(
        self,
        amt_id: uuid.UUID,
        record: ArenaHistDeltaker,
        codes: Codes,
        flags: GjennomforingFlags,
        person_ident: str,
    ) -> AmtDeltaker:
        deltaker = to_amt_deltaker(amt_id, record, codes, flags, person_ident, self.local_now.date())
        if not getattr(deltaker.status, "is_final", False):
            # a generic error in the original: retried, and FAILED after 10 attempts
            raise Stop(Outcome.ERROR, f"Hist-deltaker {record.arena_id} har ikke en avsluttende status")
        if deltaker.status_endret_dato is None:
            raise Stop(Outcome.INVALID, f"Hist-deltaker {record.arena_id} mangler statusEndretDato")
        return deltaker

    def _hist_external_guard(self, conn: Connection, record: ArenaHistDeltaker) -> None:
        if record.ekstern_id:
            _require_uuid(record.ekstern_id)
            known = self.store.hist_translation(conn, amt_id=record.ekstern_id)
            if known is None:
                normal = self.store.translation_of(conn, record.ekstern_id)
                self.store.add_hist_translation(
                    conn, record.ekstern_id, record.arena_id, normal[1] if normal else None
                )
            elif known.arena_hist_id != record.arena_id:
                raise Stop(
                    Outcome.INVALID,
                    f"EKSTERN_ID {record.ekstern_id} tilhører allerede hist id {known.arena_hist_id}",
                )
            raise Stop(Outcome.EXTERNAL_SOURCE, f"Hist-deltaker har EKSTERN_ID {record.ekstern_id}")
        if is_external(record):
            raise Stop(Outcome.EXTERNAL_SOURCE, "Hist-deltaker har DELTAKERTYPEKODE EKSTERN")


def _require_uuid(ekstern_id: str) -> None:
    """EKSTERN_ID is the AMT id the other system gave the deltakelse: a UUID (§1)."""
    try:
        canonical = str(uuid.UUID(ekstern_id)) == ekstern_id.lower()  # as Kotlin's UUID.fromString reads it
    except ValueError:
        canonical = False
    if not canonical:
        raise Stop(Outcome.INVALID, f"EKSTERN_ID {ekstern_id[:60]!r} er ikke en UUID")


def _failure(error: Exception) -> tuple[Outcome, str]:
    """How an exception ends a row. The database refusing this row's values (a text longer than its
    column, a number beyond BIGINT) is permanent: INVALID. A lookup failing (5xx, timeout) or anything
    unforeseen is tried again (RETRY, FAILED after 10 attempts), as in the original. The database
    being unreachable is no row's fault: it fails the run and leaves the row as it was."""
    if isinstance(error, (DBAPIError, StatementError, OverflowError)):
        if not is_data_error(error):
            raise error
        return Outcome.INVALID, f"the database refused the row's values: {str(error).splitlines()[0][:300]}"
    if isinstance(error, (ServiceError, MulighetsrommetAnswerError)):
        return Outcome.ERROR, str(error)
    return Outcome.ERROR, f"{type(error).__name__}: {error}"


def _read(cls: Any, entry: LedgerEntry) -> Any:
    try:
        return cls.from_payload(entry.data)
    except ArenaPayloadError as error:  # the intake checked it; a ledger row edited by hand may not be
        raise Stop(Outcome.INVALID, str(error)) from error


def _validated(record: ArenaDeltaker | ArenaHistDeltaker) -> Codes:
    try:
        return validate(record)
    except DeltakerInvalid as error:
        raise Stop(Outcome.INVALID, str(error)) from error
