"""SQL databases as a Dagster resource: one SQLAlchemy engine per URL and process.

SQLite files (the embedded default) get WAL and a busy timeout because the sensor daemon and run
processes write to the same file; PostgreSQL is used as it is.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from mm_platform.core.settings import EMBEDDED, PRODUCTION, EnvReader

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _configure_sqlite(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def engine_for(url: str) -> Engine:
    """The process-wide engine for `url` (created on first use, with the SQLite folder made)."""
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"timeout": 30})
                event.listen(engine, "connect", _configure_sqlite)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            _engines[url] = engine
        return engine


def dispose_engine(url: str) -> None:
    with _lock:
        engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


class SqlDatabase(ConfigurableResource):
    """A SQLAlchemy database URL (sqlite:///..., postgresql+psycopg2://...)."""

    url: str

    def get_engine(self) -> Engine:
        return engine_for(self.url)


_schemas_ready: set[tuple[int, str]] = set()
_schema_lock = threading.Lock()


def production() -> bool:
    """MM_PLATFORM_ENV=production, read as the settings read it (stores have no Settings at hand)."""
    environment = EnvReader(os.environ, EMBEDDED, Path()).choice("ENV", EMBEDDED, (EMBEDDED, PRODUCTION))
    return environment == PRODUCTION


def ensure_table(conn: Connection, table: Table) -> None:
    """A table of ours in another team's database (no Alembic branch there): created when missing
    outside production; in production `mm-platform db upgrade` creates it, so here it must exist."""
    if not production():
        table.create(conn, checkfirst=True)
    elif not inspect(conn).has_table(table.name):
        from mm_platform.core.migrations.runner import SchemaNotReady  # the runner imports this module

        url = conn.engine.url.render_as_string(hide_password=True)
        raise SchemaNotReady(
            f"table {table.name} is missing in {url}; "
            "run `mm-platform db upgrade` (production never creates tables)"
        )


def ensure_schema(
    metadata: MetaData, engine: Engine, legacy: Callable[[Engine], None] | None = None
) -> Engine:
    """Make `metadata`'s tables usable, once per process and database.

    In production a migrated MetaData (one of the platform database's, see core/migrations) is only
    checked: its Alembic branch must be at the code's head, else SchemaNotReady names the command to
    run. Elsewhere (embedded stack, tests: many fresh SQLite files) the missing tables are created, and
    `legacy` brings an older embedded table up to date. Sensor threads reach this together on a fresh
    database: the lock lets one of them create. A schema that is not ours (DW) is created as before."""
    marker = (id(metadata), engine.url.render_as_string(hide_password=False))
    if marker in _schemas_ready:
        return engine
    with _schema_lock:
        if marker not in _schemas_ready:
            if production() and metadata.info.get("branch"):
                from mm_platform.core.migrations.runner import require_head

                require_head(metadata, engine)
            else:
                create_tables(metadata, engine)
                if legacy is not None:
                    legacy(engine)
            _schemas_ready.add(marker)
    return engine


def create_tables(metadata: MetaData, engine: Engine, attempts: int = 3) -> None:
    """`create_all` that accepts another process creating the same tables meanwhile: between its
    check and its CREATE the other one wins ("already exists"; on PostgreSQL also a duplicate
    pg_type row), so check again. Any other error (a lock, the database down) propagates."""
    for attempt in range(1, attempts + 1):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            if attempt == attempts or "already exists" not in str(exc.orig):
                raise


def db_now() -> dt.datetime:
    """Now in UTC, naive: what the DateTime columns without a time zone hold."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def int_or_none(value: Any) -> int | None:
    """A NUMERIC column's value (Decimal) as int, keeping NULL."""
    return None if value is None else int(value)


def dialect_insert(bind: Connection | Engine, table: Table) -> Any:
    """The INSERT of SQLite or PostgreSQL, which both know ON CONFLICT; other databases are refused."""
    dialect = bind.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"ON CONFLICT writes support SQLite and PostgreSQL, not {dialect}")
    return insert(table)


def upsert(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], chunk: int = 1000
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the other given columns, on SQLite and PostgreSQL."""
    if not rows:
        return
    statement = dialect_insert(conn, table)
    updated = [c for c in rows[0] if c not in keys]
    statement = (
        statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in updated}
        )
        if updated
        else statement.on_conflict_do_nothing(index_elements=list(keys))
    )
    for start in range(0, len(rows), chunk):
        conn.execute(statement, list(rows[start : start + chunk]))
