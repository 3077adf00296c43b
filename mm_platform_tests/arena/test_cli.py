"""`mm-platform arena status / show / explain-status / resend-deltakere` on ledger rows the Arena flow
wrote (PostgreSQL, the real broker), the CLI pointed at the flow's database and topics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mm_platform.cli import main
from mm_platform_tests.arena.flow import ArenaFlow
from mm_platform_tests.arena.samples import deltaker_payload, gjennomforing_payload

GJENNOMFORING, DELTAKER = "SIAMO.TILTAKGJENNOMFORING", "SIAMO.TILTAKDELTAKER"
DELTAKER_ID = 123456


def cli_env(flow: ArenaFlow, tmp_path: Path) -> dict[str, str]:
    return {
        "MM_PLATFORM_STATE_DIR": str(tmp_path / "state"),
        "MM_PLATFORM_PLATFORM_DB_URL": flow.db_url,
        "MM_PLATFORM_ARENA_TILTAKGJENNOMFORING_TOPIC": flow.arena.gjennomforing_topic,
        "MM_PLATFORM_ARENA_TILTAK_DELTAKER_TOPIC": flow.arena.deltaker_topic,
        "MM_PLATFORM_ARENA_HIST_TILTAK_DELTAKER_TOPIC": flow.arena.hist_deltaker_topic,
        "MM_PLATFORM_ARENA_AMT_TOPIC": flow.arena.amt_topic,
        "MM_PLATFORM_ARENA_AMT_ENKELTPLASS_TOPIC": flow.arena.enkeltplass_topic,
    }


def arena(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["arena", *args], env=env)


@pytest.fixture
def handled_twice(flow: ArenaFlow, tmp_path: Path) -> dict[str, str]:
    """A gjennomføring, a deltaker published twice (pos 33 and 34), one unreadable value and one
    deltaker on an invalid gjennomføring; the CLI's environment for them."""
    flow.publish(GJENNOMFORING, "I", gjennomforing_payload(), pos=1)
    flow.publish(
        GJENNOMFORING, "I", gjennomforing_payload(TILTAKGJENNOMFORING_ID=77, ARBGIV_ID_ARRANGOR=None), pos=2
    )
    flow.ingest_and_run()
    start = flow.arena.local_now().date() + dt.timedelta(days=1)
    flow.publish(DELTAKER, "I", deltaker_payload(DATO_FRA=f"{start} 00:00:00"), pos=33)
    flow.publish(DELTAKER, "U", deltaker_payload(DATO_FRA=f"{start} 00:00:00", PROSENT_DELTID=50), pos=34)
    flow.publish(DELTAKER, "I", deltaker_payload(TILTAKDELTAKER_ID=555, TILTAKGJENNOMFORING_ID=77), pos=35)
    flow.publish_raw(flow.arena.deltaker_topic, b"{not json")
    flow.ingest_and_run()
    return cli_env(flow, tmp_path)


def test_status_counts_rows_per_table_and_status(handled_twice: dict[str, str]) -> None:
    result = arena(handled_twice, "status", "--json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["ledger"] == {
        GJENNOMFORING: {"HANDLED": 2},
        DELTAKER: {"HANDLED": 2, "WAITING": 1, "INVALID": 1},
        "SIAMO.HIST_TILTAKDELTAKER": {},
    }
    assert counts["outbox_pending"] == 0
    table = arena(handled_twice, "status")
    assert table.exit_code == 0, table.output
    deltaker_line = next(line for line in table.output.splitlines() if line.startswith(DELTAKER))
    assert deltaker_line.split()[1:] == ["0", "2", "0", "0", "0", "1", "1", "0"]  # ArenaStatus order
    assert "output messages waiting to be produced: 0" in table.output


def test_show_prints_the_history_with_notes_and_published_messages(handled_twice: dict[str, str]) -> None:
    result = arena(handled_twice, "show", "deltaker", str(DELTAKER_ID))
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["table"], shown["arena_id"]) == (DELTAKER, str(DELTAKER_ID))
    first, second = shown["rows"]
    assert (first["pos"][-2:], first["operation"], first["status"]) == ("33", "CREATED", "HANDLED")
    assert (second["pos"][-2:], second["operation"], second["status"]) == ("34", "MODIFIED", "HANDLED")
    [message] = second["published"]
    assert message["produced_at"] is not None
    assert json.loads(message["value"])["payload"]["prosentDeltid"] == 50.0
    waiting = json.loads(arena(handled_twice, "show", "deltaker", "555").output)
    assert waiting["rows"][0]["note"] == "Gjennomføring med id=77 er ugyldig"
    unknown = arena(handled_twice, "show", "deltaker", "999")
    assert unknown.exit_code == 1 and "no ledger row for SIAMO.TILTAKDELTAKER id 999" in unknown.output


def test_resend_puts_the_newest_handled_row_back_to_retry(
    flow: ArenaFlow, handled_twice: dict[str, str]
) -> None:
    result = arena(handled_twice, "resend-deltakere")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 deltaker(e) set to RETRY")
    first, second = flow.rows("deltaker", DELTAKER_ID)
    assert first["status"] == "HANDLED"
    assert (second["pos"][-2:], second["status"], second["attempts"]) == ("34", "RETRY", 0)
    assert second["note"] == "re-send requested"
    assert flow.status("deltaker", 555) == "WAITING"  # not HANDLED: left alone
    # --arena-id of a deltaker that is not HANDLED: nothing to re-send
    assert arena(handled_twice, "resend-deltakere", "--arena-id", "555").output.startswith("0 deltaker(e)")


def test_explain_status_answers_and_names_a_bad_field(tmp_path: Path) -> None:
    env = {"MM_PLATFORM_STATE_DIR": str(tmp_path)}
    fields = {
        "arenaStatus": "GJENN",
        "deltakerRegistrertDato": "2026-05-01T09:00:00",
        "deltakerStartdato": "2026-06-01",
        "deltakerSluttdato": "2026-09-01",
        "today": "2026-06-15",
    }
    ok = arena(env, "explain-status", "--json", json.dumps(fields))
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["status"] == "DELTAR"
    waiting = arena(env, "explain-status", "--json", json.dumps({**fields, "today": "2026-05-31"}))
    assert json.loads(waiting.output)["status"] == "VENTER_PA_OPPSTART"
    ended = {**fields, "arenaStatus": "DELAVB", "statusAarsakKode": "BEGA"}
    assert json.loads(arena(env, "explain-status", "--json", json.dumps(ended)).output)["statusAarsak"] == (
        "FATT_JOBB"
    )
    misspelt = arena(env, "explain-status", "--json", json.dumps({**fields, "arenaStatuss": "GJENN"}))
    assert misspelt.exit_code != 0 and "arenaStatuss" in misspelt.output
    bad_code = arena(env, "explain-status", "--json", json.dumps({**fields, "arenaStatus": "NOPE"}))
    assert bad_code.exit_code != 0 and "arenaStatus" in bad_code.output
    not_json = arena(env, "explain-status", "--json", "{nope")
    assert not_json.exit_code != 0 and "not JSON" in not_json.output
