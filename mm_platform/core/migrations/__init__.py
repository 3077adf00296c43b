"""The platform database's schema under Alembic: one environment (this folder), one branch per owner.

Core's tables (inbox, Slack outbox) are the `core` branch, versioned in `versions/`; a domain with
tables of its own keeps its revisions in `mm_platform/<domain>/migrations/` under its own branch label
and hands its MetaData to core through `Domain.metadata`. A MetaData made by `migrated_metadata`
carries its branch and folder, so core finds every revision without importing a domain, and a store
can check in production that its branch is at head (`mm_platform.core.sql.ensure_schema`).
"""

from pathlib import Path

from sqlalchemy import MetaData

ENVIRONMENT = Path(__file__).parent
CORE_VERSIONS = ENVIRONMENT / "versions"


def migrated_metadata(branch: str, versions: Path) -> MetaData:
    """A MetaData whose tables the Alembic branch `branch` (revisions in `versions`) creates."""
    return MetaData(info={"branch": branch, "versions": versions})


def branch_of(metadata: MetaData) -> str | None:
    """The Alembic branch of `metadata`; None for a schema that is not ours (OLTP, DW)."""
    return metadata.info.get("branch")


def existing_tables() -> set[str]:
    """In a revision: the tables the database holds. A baseline creates only the missing ones, so a
    database made by the previous release (create_all on first use, some tables never used) is adopted
    with its tables and rows as they are."""
    from alembic import op
    from sqlalchemy import inspect

    return set(inspect(op.get_bind()).get_table_names())
