"""Alembic's environment for the platform database. Run by `mm_platform.core.migrations.runner`,
which hands over an open connection and every registered MetaData (no alembic.ini, no URL here)."""

from alembic import context

config = context.config
connection = config.attributes["connection"]
# autogenerate for one branch compares only that branch's tables (the others have their own folders)
only_tables: set[str] | None = config.attributes.get("only_tables")


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    if type_ != "table" or only_tables is None:
        return True
    return name in only_tables


context.configure(
    connection=connection,
    target_metadata=config.attributes["target_metadata"],
    include_object=include_object,
    # SQLite alters a table by copying it: later revisions' ALTERs work on the embedded database too
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
