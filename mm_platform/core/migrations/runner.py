"""Alembic's commands on the platform database, configured in code (no alembic.ini at runtime).

`upgrade` is what `mm-platform db upgrade` runs: every branch to its head. A database made by the
previous release (tables from `create_all`, no `alembic_version`) is adopted: each branch's baseline
creates only the tables that are missing, so existing tables and their rows are kept.
"""

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, inspect, text

from mm_platform.core.migrations import ENVIRONMENT, branch_of
from mm_platform.core.sql import engine_for

VERSION_TABLE = "alembic_version"
UPGRADE_LOCK = 0x6D6D_6462  # "mmdb": the advisory lock `db upgrade` holds on PostgreSQL


class SchemaNotReady(RuntimeError):
    """The platform database is not at the code's revision (production never creates tables)."""


def core_metadata() -> list[MetaData]:
    from mm_platform.core import inbox, slack

    return [inbox.metadata, slack.metadata]


@dataclass(frozen=True)
class Schema:
    """Every MetaData of the platform database (core's and the registered domains'), by branch."""

    metadata: Sequence[MetaData]

    @classmethod
    def of(cls, domain_metadata: Iterable[MetaData]) -> "Schema":
        schema = cls([*core_metadata(), *domain_metadata])
        unmigrated = [sorted(m.tables) for m in schema.metadata if branch_of(m) is None]
        if unmigrated:
            raise ValueError(f"tables without a migration branch (use migrated_metadata): {unmigrated}")
        return schema

    @property
    def version_locations(self) -> list[Path]:
        return sorted({m.info["versions"] for m in self.metadata})

    def tables(self, branch: str) -> set[str]:
        return {name for m in self.metadata if branch_of(m) == branch for name in m.tables}

    @property
    def branches(self) -> list[str]:
        return sorted({b for m in self.metadata if (b := branch_of(m))})

    def config(self) -> Config:
        return alembic_config(self.version_locations, list(self.metadata))

    def config_script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())


def alembic_config(version_locations: Sequence[Path], metadata: Sequence[MetaData]) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations))
    config.attributes["target_metadata"] = list(metadata)
    return config


def _current(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def branch_heads(script: ScriptDirectory) -> dict[str, str]:
    """Each branch label's head revision."""
    heads: dict[str, str] = {}
    for head in script.get_revisions("heads"):
        assert head is not None
        for rev in script.iterate_revisions(head.revision, "base"):
            assert rev is not None
            for label in rev.branch_labels:
                heads[label] = head.revision
    return heads


_ALEMBIC = threading.Lock()  # one alembic command at a time in this process


def upgrade(url: str, schema: Schema) -> list[str]:
    """Every branch to its head; returns what was done, line by line, for the operator."""
    engine = engine_for(url)
    lines: list[str] = []
    existing = set(inspect(engine).get_table_names())
    if VERSION_TABLE not in existing:
        for branch in schema.branches:
            kept = sorted(schema.tables(branch) & existing)
            if kept:
                lines.append(
                    f"adopting {branch}: {', '.join(kept)} made by the previous release, kept as they are "
                    "(its baseline creates only the missing tables)"
                )
    before = _current(engine)
    config = schema.config()
    # alembic's `op` and `context` are module-wide proxies: two upgrades in one process at once (two
    # stacks in one test process) would run one's migrations on the other's connection
    with _ALEMBIC, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # two pods starting together: the second waits, then finds every branch at head
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")
    after = _current(engine)
    script = ScriptDirectory.from_config(config)
    for branch, head in sorted(branch_heads(script).items()):
        was = _branch_revision(script, before, branch)
        lines.append(f"{branch}: {was or 'empty'} -> {head}" if was != head else f"{branch}: at {head}")
    if after != set(branch_heads(script).values()):
        raise SchemaNotReady(f"after the upgrade the database holds {sorted(after)}, not the code's heads")
    return lines


def _branch_revision(script: ScriptDirectory, current: set[str], branch: str) -> str | None:
    for revision in current:
        rev = script.get_revision(revision)
        if rev is not None and branch in _labels_below(script, revision):
            return revision
    return None


def _labels_below(script: ScriptDirectory, revision: str) -> set[str]:
    return {label for rev in script.iterate_revisions(revision, "base") if rev for label in rev.branch_labels}


def current(url: str, schema: Schema) -> list[tuple[str, str | None, str]]:
    """(branch, the database's revision or None, the code's head) for every branch."""
    config = schema.config()
    script = ScriptDirectory.from_config(config)
    revisions = _current(engine_for(url)) if _has_version_table(engine_for(url)) else set()
    return [
        (branch, _branch_revision(script, revisions, branch), head)
        for branch, head in sorted(branch_heads(script).items())
    ]


def _has_version_table(engine: Engine) -> bool:
    return inspect(engine).has_table(VERSION_TABLE)


def revision(url: str, schema: Schema, branch: str, message: str, autogenerate: bool = True) -> Path:
    """A new revision on `branch`, compared against the database at `url` (upgraded first: Alembic
    compares the models with a database at head)."""
    upgrade(url, schema)
    engine = engine_for(url)
    config = schema.config()
    config.attributes["only_tables"] = schema.tables(branch)
    script = ScriptDirectory.from_config(config)
    versions = next(m.info["versions"] for m in schema.metadata if branch_of(m) == branch)
    known = branch in branch_heads(script)
    number = len(list(script.iterate_revisions(f"{branch}@head", "base"))) + 1 if known else 1
    with _ALEMBIC, engine.begin() as conn:
        config.attributes["connection"] = conn
        made = command.revision(
            config,
            message=message,
            autogenerate=autogenerate,
            head=f"{branch}@head" if known else "base",
            branch_label=None if known else branch,
            version_path=str(versions),
            # readable ids in order (core_0002): one folder per branch, so no two authors share a name
            rev_id=f"{branch}_{number:04d}",
        )
    assert made is not None and not isinstance(made, list)
    return Path(made.path)


# ---- production: a store checks its branch is at head ---------------------------------------


@cache
def _code_head(versions: Path, branch: str) -> str:
    script = ScriptDirectory.from_config(alembic_config([versions], []))
    return branch_heads(script)[branch]


_lock = threading.Lock()


def require_head(metadata: MetaData, engine: Engine) -> None:
    """Raise SchemaNotReady unless the database holds `metadata`'s branch at the code's head."""
    branch = branch_of(metadata)
    assert branch is not None
    head = _code_head(metadata.info["versions"], branch)
    with _lock:
        revisions = _current(engine) if _has_version_table(engine) else set()
    if head not in revisions:
        found = ", ".join(sorted(revisions)) or "no migrations applied"
        url = engine.url.render_as_string(hide_password=True)
        raise SchemaNotReady(
            f"the platform database {url} is not at revision {head} of `{branch}` ({found}); "
            "run `mm-platform db upgrade` (production never creates tables)"
        )
