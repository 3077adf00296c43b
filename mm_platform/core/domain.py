"""The domain contract: what a domain hands the platform, so that core never imports a domain.

A domain is a folder (`mm_platform/<domain>/`) with a `domain.py` that builds one `Domain`, plus
one line in `mm_platform/domains.py`. The code location, the `mm-platform` tool and the embedded
stack loop over the registered domains and ask each for its part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click
from dagster import Definitions
from sqlalchemy import MetaData

if TYPE_CHECKING:
    from mm_platform.core.settings import Settings


@dataclass(frozen=True)
class StandIn:
    """A local stand-in for another team's service (embedded stack only): `python -m module --host H
    --port P --db <state>/<name>.db`, started when `url` points at this machine and nothing answers."""

    name: str
    url: str
    module: str


def _nothing(_settings: Settings) -> None:
    return None


def _no_topics(_settings: Settings) -> Mapping[str, int]:
    return {}


def _no_standins(_settings: Settings) -> Sequence[StandIn]:
    return ()


def _no_foreign_tables(_settings: Settings) -> Sequence[str]:
    return ()


@dataclass(frozen=True)
class Domain:
    # the name operators type (`mm-platform demo --domain NAME`)
    name: str
    # the domain's own settings: a class with `from_env(reader: EnvReader)`, read as `settings.section(cls)`
    settings: type
    # the domain's assets, jobs, sensors, schedules and resources for these settings
    definitions: Callable[[Settings], Definitions]
    # commands added to `mm-platform` (a group such as `vf`, or top-level commands such as `trace`)
    commands: Sequence[click.Command] = ()
    # `mm-platform demo --domain NAME [options]`: shows the flow end to end on the running stack
    demo: click.Command | None = None
    # `mm-platform publish TOPIC --sample NAME`: the sample message values the domain offers
    samples: Mapping[str, Callable[[], str]] = field(default_factory=dict)
    # embedded stack: the topics to create (name -> partitions) ...
    topics: Callable[[Settings], Mapping[str, int]] = _no_topics
    # ... the stand-ins to start ...
    standins: Callable[[Settings], Sequence[StandIn]] = _no_standins
    # ... and everything else, idempotent: buckets, tables, streams, schemas, sample data
    prepare_stack: Callable[[Settings], None] = _nothing
    # `mm-platform db upgrade`: the domain's own tables in other teams' databases (not under the
    # platform database's Alembic), created if missing; one line per table for the operator
    foreign_tables: Callable[[Settings], Sequence[str]] = _no_foreign_tables
    # the domain's tables in the platform database, each MetaData made by `migrated_metadata` (its
    # Alembic branch and folder): `mm-platform db upgrade` migrates them, the suite checks they match
    metadata: Sequence[MetaData] = ()
