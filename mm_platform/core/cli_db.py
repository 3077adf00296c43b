"""`mm-platform db`: the platform database's migrations (core/migrations) on MM_PLATFORM_PLATFORM_DB_URL."""

from collections.abc import Sequence

import click

from mm_platform.core.cli_common import load_settings
from mm_platform.core.domain import Domain
from mm_platform.core.migrations.runner import Schema, current, revision, upgrade


def db_group(domains: Sequence[Domain]) -> click.Group:
    def schema() -> Schema:
        return Schema.of(m for d in domains for m in d.metadata)

    @click.group()
    def db() -> None:
        """The platform database's schema (Alembic migrations, one branch per owner)."""

    @db.command("upgrade")
    def db_upgrade() -> None:
        """Bring every branch to its head (adopting a database made by the previous release), and
        create the domains' tables in other teams' databases when missing."""
        settings = load_settings()
        for line in upgrade(settings.platform_db_url, schema()):
            click.echo(line)
        for domain in domains:  # the domains' tables in other teams' databases
            for line in domain.foreign_tables(settings):
                click.echo(line)

    @db.command("current")
    def db_current() -> None:
        """Each branch's revision in the database and the code's head; exits 1 if one is behind."""
        behind = False
        for branch, revision_id, head in current(load_settings().platform_db_url, schema()):
            state = "at head" if revision_id == head else f"behind, head is {head}"
            behind = behind or revision_id != head
            click.echo(f"{branch:14} {revision_id or 'none':24} {state}")
        if behind:
            raise click.exceptions.Exit(1)

    @db.command("revision")
    @click.option("--branch", required=True, help="the owner: core or a domain's branch (see `db current`)")
    @click.option("-m", "--message", required=True)
    @click.option("--empty", is_flag=True, help="an empty revision instead of comparing with the models")
    def db_revision(branch: str, message: str, empty: bool) -> None:
        """Write a new revision of BRANCH: the differences between the models and the database
        (upgraded first; a scratch database: MM_PLATFORM_PLATFORM_DB_URL=sqlite:///scratch.db)."""
        made = schema()
        if branch not in made.branches:
            raise click.BadParameter(f"one of {', '.join(made.branches)}", param_hint="--branch")
        path = revision(load_settings().platform_db_url, made, branch, message, autogenerate=not empty)
        click.echo(f"wrote {path}; review it, it runs on SQLite and PostgreSQL")

    return db
