"""The Arena part of the embedded stack: the three Arena topics and the two AMT topics, the lookups
stand-in (Mulighetsrommet, ORDS and amt-tiltak in one local app) and its sample data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mm_platform.arena.dev import sample_lookups
from mm_platform.arena.settings import ArenaSettings
from mm_platform.core.domain import StandIn
from mm_platform.core.settings import Settings

# NAV's Arena topics have 4 partitions (the temp consumer's offsets name p0..p3)
TOPIC_PARTITIONS = 4


def topics(settings: Settings) -> Mapping[str, int]:
    arena = settings.section(ArenaSettings)
    names = (*arena.input_topics, arena.amt_topic, arena.enkeltplass_topic)
    return dict.fromkeys(names, TOPIC_PARTITIONS)


def standins(settings: Settings) -> Sequence[StandIn]:
    arena = settings.section(ArenaSettings)
    urls = {arena.mulighetsrommet_url, arena.ords_url, arena.amt_tiltak_url}
    # one app serves all three; production points each URL at its own service
    return [
        StandIn(
            "arena-lookups" if i == 0 else f"arena-lookups-{i}", url, "mm_platform.arena.dev.lookups_standin"
        )
        for i, url in enumerate(sorted(urls))
    ]


def prepare_stack(settings: Settings) -> None:
    arena = settings.section(ArenaSettings)
    for url in sorted({arena.mulighetsrommet_url, arena.ords_url, arena.amt_tiltak_url}):
        if url.startswith(("http://127.0.0.1", "http://localhost")):
            sample_lookups.load(url)
