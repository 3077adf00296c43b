"""A deltaker waits for, skips or goes on with its gjennomføring (spec §4, §11.4; scenarios 6 and 7)."""

from __future__ import annotations

from uuid import UUID

from mm_platform.arena.rules.dependencies import KnownGjennomforing, gjennomforing_verdict
from mm_platform.arena.rules.ledger import ArenaStatus, Outcome, live_status

MR_ID = UUID("7f1c7a52-3b0e-4a34-9a52-1c1f8d3a0b11")


def known(
    tiltak_kode: str = "INDOPPFAG", is_valid: bool = True, mr_id: UUID | None = MR_ID
) -> KnownGjennomforing:
    return KnownGjennomforing("4711", tiltak_kode, is_valid, mr_id)


def test_a_gjennomforing_never_ingested_makes_the_deltaker_retry() -> None:
    verdict = gjennomforing_verdict("4711", None, None)
    assert (verdict.outcome, verdict.note) == (
        Outcome.DEPENDENCY_NOT_INGESTED,
        "Venter på at gjennomføring med id=4711 skal bli håndtert",
    )
    assert live_status(verdict.outcome) is ArenaStatus.RETRY
    # TILTAKGJENNOMFORING_ID 0 on a deltaker ends the same way, not INVALID (§11.4)
    assert gjennomforing_verdict("0", None, None).outcome is Outcome.DEPENDENCY_NOT_INGESTED


def test_an_unsupported_tiltak_is_ignored_and_an_invalid_gjennomforing_waits() -> None:
    ignored = gjennomforing_verdict("4711", known(tiltak_kode="AMO"), MR_ID)
    assert ignored.outcome is Outcome.IGNORED and "AMO" in ignored.note
    waiting = gjennomforing_verdict("4711", known(is_valid=False), MR_ID)
    assert live_status(waiting.outcome) is ArenaStatus.WAITING
    # the tiltak is checked before validity: an unsupported, invalid one is ignored, not waited for
    assert gjennomforing_verdict("4711", known("AMO", is_valid=False), MR_ID).outcome is Outcome.IGNORED


def test_a_gjennomforing_mulighetsrommet_does_not_know_yet_makes_the_deltaker_retry() -> None:
    verdict = gjennomforing_verdict("4711", known(mr_id=None), None)
    assert verdict.outcome is Outcome.DEPENDENCY_NOT_INGESTED and not verdict.ready


def test_a_known_valid_supported_gjennomforing_lets_the_deltaker_through() -> None:
    assert gjennomforing_verdict("4711", known(), MR_ID).ready
    # an id looked up now counts as well as a stored one
    assert gjennomforing_verdict("4711", known(mr_id=None), MR_ID).ready
