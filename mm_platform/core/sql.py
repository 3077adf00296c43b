"""SQL databases as a Dagster resource: one SQLAlchemy engine per URL and process.

SQLite files (the embedded default) get WAL and a busy timeout because the sensor daemon and run
processes write to the same file; PostgreSQL is used as it is.
"""

from __future__ import annotations

import threading
from pathlib import Path

from dagster import ConfigurableResource
from sqlalchemy import Engine, create_engine, event
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
