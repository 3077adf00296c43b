"""Spec §8 scenarios 1-3: the gjennomføring processor against the broker, PostgreSQL and the lookups
stand-in."""

from __future__ import annotations

from sqlalchemy import select

from mm_platform.arena.dev.lookups_standin import derived_mr_id
from mm_platform.arena.stores.ledger_store import gjennomforing_table
from mm_platform_tests.arena.flow import ArenaFlow
from mm_platform_tests.arena.samples import gjennomforing_payload

GJENNOMFORING = "SIAMO.TILTAKGJENNOMFORING"


def gjennomforing_row(flow: ArenaFlow, arena_id: int):
    with flow.store.engine.connect() as conn:
        return conn.execute(
            select(gjennomforing_table).where(gjennomforing_table.c.arena_id == str(arena_id))
        ).first()


def test_1_valid_supported_gjennomforing_is_stored_with_its_mulighetsrommet_id(flow: ArenaFlow) -> None:
    flow.publish(GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=501), pos=1)
    assert flow.ingest() == 1
    metadata = flow.run()
    row = gjennomforing_row(flow, 501)
    assert (row.tiltak_kode, row.is_valid, row.mr_id) == ("GRUPPEAMO", True, derived_mr_id("501"))
    assert flow.status("gjennomforing", 501) == "HANDLED"
    assert metadata["settled handled"] == 1


def test_2_gjennomforing_without_arrangor_is_invalid_but_kept_and_handled(flow: ArenaFlow) -> None:
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=502, ARBGIV_ID_ARRANGOR=None), pos=1
    )
    flow.ingest_and_run()
    row = gjennomforing_row(flow, 502)
    assert (row.is_valid, row.mr_id) == (False, derived_mr_id("502"))
    [ledger] = flow.rows("gjennomforing", 502)
    assert ledger["status"] == "HANDLED"
    assert "ARBGIV_ID_ARRANGOR" in ledger["note"]


def test_3_unsupported_tiltakskode_is_stored_and_its_ledger_row_ignored(flow: ArenaFlow) -> None:
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=503, TILTAKSKODE="AMO"), pos=1
    )
    flow.ingest_and_run()
    row = gjennomforing_row(flow, 503)
    assert (row.tiltak_kode, row.is_valid) == ("AMO", True)
    # the original writes no ledger row; here it is IGNORED and deleted by the hourly job
    [ledger] = flow.rows("gjennomforing", 503)
    assert ledger["status"] == "IGNORED" and "AMO" in ledger["note"]
    assert flow.output() == []
