"""SQL databases as a Dagster resource: one SQLAlchemy engine per URL and process.

SQLite files (the embedded default) get WAL and a busy timeout because the sensor daemon and run
processes write to the same file; PostgreSQL is used as it is.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import make_url

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


def upsert(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], chunk: int = 1000
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE the other given columns, on SQLite and PostgreSQL."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise NotImplementedError(f"upsert supports SQLite and PostgreSQL, not {dialect}")
    statement = dialect_insert(table)
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
