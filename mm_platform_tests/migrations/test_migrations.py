"""The platform database's migrations: an empty database upgraded to head equals the models, a
database made by the previous release is adopted with its rows, and production never creates tables."""

from collections.abc import Sequence
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import MetaData, create_engine, inspect, text

from mm_platform.cli import main
from mm_platform.core.inbox import InboxResource
from mm_platform.core.migrations import branch_of
from mm_platform.core.migrations.runner import Schema, SchemaNotReady, branch_heads
from mm_platform.core.sql import engine_for, ensure_table
from mm_platform.domains import DOMAINS
from mm_platform.marathon.stores.round_ratings import rating_input
from mm_platform.verified_fan.stores.ledger import Ledger

SNAPSHOT = Path(__file__).with_name("previous_release_840cd82.sql")
# a row in a table of each branch, as the previous release wrote them
PREVIOUS_ROWS = {
    "event_inbox": "INSERT INTO event_inbox (topic, kafka_partition, kafka_offset, status, received_at,"
    " updated_at) VALUES ('t', 0, 7, 'HANDLED', now(), now())",
    "scoring_submission": "INSERT INTO scoring_submission (submission_id, challenge_id, member_id, url,"
    " created, received_at) VALUES ('s1', 'c1', 'm1', 'u', now(), now())",
    "arena_gjennomforing": "INSERT INTO arena_gjennomforing VALUES ('a1', 'AMO', true, NULL, now(), now())",
    "vf_rejected_row": "INSERT INTO vf_rejected_row (file_ref, object_key, kind, line, campaign_id,"
    " member_key, stage, reason, recorded_at) VALUES ('f', 'k', 'scrubbed', 2, 'c', 'm', 'validation',"
    " 'bad', now())",
}


def registered() -> Schema:
    """Core's MetaData and every registered domain's, as `mm-platform db` collects them."""
    return Schema.of(m for d in DOMAINS for m in d.metadata)


def db(url: str, *args: str, oltp_url: str = "sqlite://") -> Result:
    # embedded: the command needs only the databases' URLs (production wants every service); the
    # OLTP database (where marathon keeps its capture table) is a throwaway in-memory one by default
    env = {
        "MM_PLATFORM_PLATFORM_DB_URL": url,
        "MM_PLATFORM_OLTP_DB_URL": oltp_url,
        "MM_PLATFORM_ENV": "embedded",
    }
    result = CliRunner().invoke(main, ["db", *args], env=env)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def differences(url: str, metadata: Sequence[MetaData]) -> list:
    with create_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, list(metadata))  # type: ignore[arg-type]


def stored_revisions(url: str) -> set[str]:
    with create_engine(url).connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


def code_heads(schema: Schema) -> set[str]:
    return set(branch_heads(schema.config_script()).values())


def test_an_empty_database_upgraded_to_head_equals_the_models(db_url: str) -> None:
    schema = registered()
    out = db(db_url, "upgrade").output
    assert "core: empty -> core_0001" in out and "adopting" not in out
    assert differences(db_url, schema.metadata) == []
    assert stored_revisions(db_url) == code_heads(schema)
    # again: nothing to do; `db current` says every branch is at head
    assert "core: at core_0001" in db(db_url, "upgrade").output
    assert db(db_url, "current").output.count("at head") == len(schema.branches)


def test_every_registered_domain_table_has_a_migration_branch() -> None:
    """A domain's new MetaData or table without a revision fails here or in the comparison above."""
    heads = branch_heads(registered().config_script())
    for domain in DOMAINS:
        for metadata in domain.metadata:
            assert branch_of(metadata) in heads, (domain.name, sorted(metadata.tables))
    assert set(heads) == set(registered().branches)


def test_a_database_made_by_the_previous_release_is_adopted(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(SNAPSHOT.read_text())
        for statement in PREVIOUS_ROWS.values():
            conn.execute(text(statement))
    engine.dispose()
    out = db(pg_url, "upgrade").output
    assert "adopting core: event_inbox, slack_outbox" in out and "adopting verified_fan" in out
    schema = registered()
    assert stored_revisions(pg_url) == code_heads(schema)
    assert differences(pg_url, schema.metadata) == []
    with create_engine(pg_url).connect() as conn:
        for table in PREVIOUS_ROWS:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1, table


def test_production_never_creates_tables(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_PLATFORM_ENV", "production")
    with pytest.raises(SchemaNotReady, match="run `mm-platform db upgrade`"):
        InboxResource(database_url=db_url).get_inbox()
    with pytest.raises(SchemaNotReady, match="verified_fan"):
        Ledger(engine_for(db_url))
    assert inspect(engine_for(db_url)).get_table_names() == []
    db(db_url, "upgrade")
    assert InboxResource(database_url=db_url).get_inbox().counts() == {}
    assert Ledger(engine_for(db_url)).engine is engine_for(db_url)


def test_upgrade_makes_the_capture_table_in_the_oltp_database_which_production_only_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, oltp = f"sqlite:///{tmp_path}/platform.db", f"sqlite:///{tmp_path}/oltp.db"
    monkeypatch.setenv("MM_PLATFORM_ENV", "production")
    with (
        engine_for(oltp).begin() as conn,
        pytest.raises(SchemaNotReady, match="run `mm-platform db upgrade`"),
    ):
        ensure_table(conn, rating_input)
    assert not inspect(engine_for(oltp)).has_table(rating_input.name)
    out = db(platform, "upgrade", oltp_url=oltp).output
    assert f"marathon: {rating_input.name} in the OLTP database created" in out
    with engine_for(oltp).begin() as conn:
        ensure_table(conn, rating_input)  # present now: no error
    assert (
        f"{rating_input.name} in the OLTP database present" in db(platform, "upgrade", oltp_url=oltp).output
    )
    # the platform database holds none of it
    assert not inspect(engine_for(platform)).has_table(rating_input.name)
