"""What every `mm-platform` command needs: settings, the inbox, Kafka and the Dagster instance, built
the way the code location builds them."""

from __future__ import annotations

from collections.abc import Iterable

import click
from dagster import DagsterInstance

from mm_platform.core.inbox import EventInbox, InboxResource
from mm_platform.core.kafka import KafkaResource, kafka_resource
from mm_platform.core.settings import Settings


def load_settings(sections: Iterable[type] = ()) -> Settings:
    """The settings from MM_PLATFORM_* variables (a bad one ends the command with its message)."""
    return Settings.from_env(sections=sections)


def kafka_of(settings: Settings) -> KafkaResource:
    """The code location's Kafka resource, its secret resolved from the environment."""
    return kafka_resource(settings).process_config_and_initialize()


def inbox_of(settings: Settings) -> EventInbox:
    """The inbox as the code location opens it: in production only once `db upgrade` has run."""
    return InboxResource(database_url=settings.platform_db_url).get_inbox()


def instance_of(settings: Settings) -> DagsterInstance:
    """The embedded stack's instance (its DAGSTER_HOME in the state folder), else $DAGSTER_HOME's."""
    return (
        DagsterInstance.from_config(str(settings.dagster_home))
        if settings.embedded
        else DagsterInstance.get()
    )


def require_running_stack(settings: Settings) -> None:
    """A demo needs the embedded stack's broker and AWS emulation answering."""
    from mm_platform.core.devstack import Stack

    for name, up in Stack(settings, ()).status().items():
        if not up:
            raise click.ClickException(f"{name} is not reachable; start the stack with `make dev`")
