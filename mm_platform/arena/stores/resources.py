"""The Arena ACL's own resource: topic names, Arena's time zone and the page size of a ledger run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import ConfigurableResource
from pydantic import Field

from mm_platform.arena.stores.processors import OutputTopics


class ArenaResource(ConfigurableResource):
    gjennomforing_topic: str
    deltaker_topic: str
    hist_deltaker_topic: str
    amt_topic: str
    enkeltplass_topic: str
    timezone: str = Field(default="Europe/Oslo", description="Arena's local time: 'today' and timestamps")
    batch_size: int = Field(default=5000, description="ledger rows per page of a processing run")
    lookup_workers: int = Field(default=8, description="person lookups in flight at once for a page")

    @property
    def input_topics(self) -> list[str]:
        """In processing order: gjennomføringer before the deltakere that wait for them (§3)."""
        return [self.gjennomforing_topic, self.deltaker_topic, self.hist_deltaker_topic]

    @property
    def output_topics(self) -> OutputTopics:
        return OutputTopics(
            amt=self.amt_topic,
            enkeltplass=self.enkeltplass_topic,
            deltaker=self.deltaker_topic,
            hist=self.hist_deltaker_topic,
        )

    def local_now(self, now: dt.datetime | None = None) -> dt.datetime:
        """Now in Arena's zone, without the zone (Arena's dates carry none)."""
        moment = now or dt.datetime.now(dt.timezone.utc)
        return moment.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
