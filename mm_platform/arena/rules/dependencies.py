"""Whether a deltaker (or hist deltaker) message may be processed, from what is known of its
gjennomføring (spec §4, "How tiltakstype controls deltakere"; §11.4). Pure: no Dagster, no I/O.

The processors look the gjennomføring up (the local table, then Mulighetsrommet) and ask this module;
a verdict that is not `ready` ends the message with that outcome and note.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from mm_platform.arena.rules.ledger import Outcome
from mm_platform.arena.rules.tiltak import SUPPORTED_TILTAK


@dataclass(frozen=True)
class KnownGjennomforing:
    """A row of the local `gjennomforing` table."""

    arena_id: str
    tiltak_kode: str
    is_valid: bool
    mr_id: UUID | None  # the Mulighetsrommet id, once looked up


@dataclass(frozen=True)
class DependencyVerdict:
    outcome: Outcome | None  # None: ready, go on with the message
    note: str | None = None

    @property
    def ready(self) -> bool:
        return self.outcome is None


def gjennomforing_verdict(
    gjennomforing_id: str, known: KnownGjennomforing | None, mr_id: UUID | None
) -> DependencyVerdict:
    """`known`: the local row, None when the gjennomføring was never ingested; `mr_id`: the row's
    Mulighetsrommet id, or the one looked up now (None: Mulighetsrommet does not know it yet)."""
    if known is None:
        # also TILTAKGJENNOMFORING_ID 0: no gjennomføring 0 is ever ingested (§11.4)
        return DependencyVerdict(
            Outcome.DEPENDENCY_NOT_INGESTED,
            f"Venter på at gjennomføring med id={gjennomforing_id} skal bli håndtert",
        )
    if known.tiltak_kode not in SUPPORTED_TILTAK:
        return DependencyVerdict(
            Outcome.IGNORED, f"Deltaker på gjennomføring med tiltakskode {known.tiltak_kode} støttes ikke"
        )
    if not known.is_valid:
        return DependencyVerdict(
            Outcome.DEPENDENCY_NOT_VALID, f"Gjennomføring med id={gjennomforing_id} er ugyldig"
        )
    if mr_id is None:
        return DependencyVerdict(
            Outcome.DEPENDENCY_NOT_INGESTED,
            f"Mulighetsrommet kjenner ikke gjennomføring med arena id={gjennomforing_id} ennå",
        )
    return DependencyVerdict(None)
