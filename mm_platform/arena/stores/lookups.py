"""The three HTTP lookups of the Arena ACL (spec §4, §5 step 4, §6 step 7): Mulighetsrommet (Arena id ->
MR id, and the v2 gjennomføring), Arena ORDS (Arena person id -> fnr) and amt-tiltak (a person's
deltakelser). Each is an `HttpService`, so each has its own base URL and optional bearer token.

The answers map to ingest statuses in the processors, not here: these clients only say "not found"
(None) where the original does, and raise `ServiceError` (with `.status`) for everything else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote
from uuid import UUID

from mm_platform.core.services import HttpService, ServiceError


def _segment(value: object) -> str:
    return quote(str(value), safe="")


class MulighetsrommetApi(HttpService):
    """Mulighetsrommet API (`K/clients/mulighetsrommet/MulighetsrommetApiClient.kt`)."""

    def gjennomforing_id(self, arena_id: str | int) -> UUID | None:
        """GET /api/v1/tiltaksgjennomforinger/id/{arenaId} -> {id}; None on 404 (MR does not know
        the gjennomføring yet), other errors raise ServiceError."""
        try:
            answer = self.get_json(f"/api/v1/tiltaksgjennomforinger/id/{_segment(arena_id)}")
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            return UUID(str(answer["id"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ServiceError(f"Mulighetsrommet answered {answer!r} for arena id {arena_id}") from exc

    def gjennomforing(self, mr_id: UUID | str) -> dict[str, Any]:
        """GET /api/v2/tiltaksgjennomforinger/{id} -> {id, tiltakskode, arrangor: {organisasjonsnummer},
        oppstart}. Any non-2xx, 404 included, raises ServiceError (spec §11.5: the deltaker is RETRY);
        so does an answer missing one of those fields (the original's strict deserialisation)."""
        answer = self.get_json(f"/api/v2/tiltaksgjennomforinger/{_segment(mr_id)}")
        arrangor = answer.get("arrangor") if isinstance(answer, dict) else None
        complete = (
            isinstance(answer, dict)
            and all(answer.get(name) for name in ("id", "tiltakskode", "oppstart"))
            and isinstance(arrangor, dict)
            and bool(arrangor.get("organisasjonsnummer"))
        )
        if not complete:
            raise ServiceError(f"Mulighetsrommet v2 answered {answer!r} for gjennomføring {mr_id}")
        return answer


class OrdsApi(HttpService):
    """Arena ORDS proxy (`K/clients/ordsproxy/ArenaOrdsProxyClientImpl.kt`)."""

    def fnr(self, person_id: str | int) -> str | None:
        """GET /api/ords/fnr?personId=… -> {fnr}; None on 404 (Arena has no ident for the person:
        INVALID), other non-2xx raise ServiceError (RETRY)."""
        try:
            answer = self.get_json("/api/ords/fnr", params={"personId": str(person_id)})
        except ServiceError as exc:
            if exc.status == 404:
                return None
            raise
        fnr = answer.get("fnr") if isinstance(answer, dict) else None
        if not isinstance(fnr, str) or not fnr:
            raise ServiceError(f"ORDS answered {answer!r} for person {person_id}")
        return fnr


class AmtTiltakApi(HttpService):
    """amt-tiltak's external API (`K/clients/amttiltak/AmtTiltakClientImpl.kt`)."""

    def deltakelser(self, person_ident: str) -> list[dict[str, Any]]:
        """POST /api/external/deltakelser {personIdent} -> [{id, gjennomforing: {id}, startDato,
        sluttDato, status}]; any error raises ServiceError. The POST is a read, so the default retry
        of every method (HttpService.retried_methods None) is safe here."""
        answer = self.post_json("/api/external/deltakelser", {"personIdent": person_ident})
        if not isinstance(answer, list) or not all(
            isinstance(d, dict) and "id" in d and isinstance(d.get("gjennomforing"), dict) and "status" in d
            for d in answer
        ):
            raise ServiceError(f"amt-tiltak answered {str(answer)[:300]} for a person's deltakelser")
        return answer


class CachedOrds:
    """Person lookups remembered for one run: a replay meets the same person in many messages, and
    Arena's person id -> fnr does not change within a run. Found and not-found (404) answers are
    kept; errors are not, so a RETRY asks again. Thread-safe; make one per run."""

    def __init__(self, ords: OrdsApi) -> None:
        self.ords = ords
        self.hits = 0
        self.misses = 0
        self._known: dict[str, str | None] = {}
        # a prefetch's failed lookups, each handed to the first row that asks (so a failing ORDS is
        # called once per person and row, as without the prefetch)
        self._failed: dict[str, ServiceError] = {}
        self._lock = threading.Lock()

    def fnr(self, person_id: str | int) -> str | None:
        key = str(person_id)
        with self._lock:
            if key in self._known:
                self.hits += 1
                return self._known[key]
            failed = self._failed.pop(key, None)
        if failed is not None:
            raise failed
        # the call runs outside the lock: two threads asking for one new person may both call ORDS,
        # which is harmless, whereas holding the lock would serialise every lookup of the run
        fnr = self.ords.fnr(key)
        with self._lock:
            self.misses += 1
            self._known[key] = fnr
        return fnr

    def prefetch(self, person_ids: Iterable[str | int], workers: int) -> None:
        """Look up the persons not known yet, `workers` calls at a time. A failed lookup is kept
        for the first row that asks for the person, and only for it."""
        with self._lock:
            wanted = {str(p) for p in person_ids} - self._known.keys() - self._failed.keys()
        if not wanted:
            return

        def quietly(person_id: str) -> None:
            try:
                self.fnr(person_id)
            except ServiceError as error:
                with self._lock:
                    self._failed[person_id] = error
            except Exception:  # unforeseen: the row's own lookup meets it again
                pass

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted)))) as pool:
            list(pool.map(quietly, sorted(wanted)))
