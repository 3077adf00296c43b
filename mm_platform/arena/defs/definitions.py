"""The Arena ACL's Dagster definitions for the settings."""

from dagster import Definitions

from mm_platform.arena.defs.assets import INPUT_EVENTS, process_arena_ledger, publish_amt_deltakere
from mm_platform.arena.defs.sensors import (
    arena_failed_nightly,
    arena_ignored_cleanup,
    arena_ignored_cleanup_job,
    arena_ledger_job,
    arena_retry_schedule,
    build_arena_sensor,
)
from mm_platform.arena.settings import ArenaSettings
from mm_platform.arena.stores.lookups import AmtTiltakApi, MulighetsrommetApi, OrdsApi
from mm_platform.arena.stores.resources import ArenaResource
from mm_platform.core.settings import Settings


def arena_resource(settings: Settings) -> ArenaResource:
    arena = settings.section(ArenaSettings)
    return ArenaResource(
        gjennomforing_topic=arena.gjennomforing_topic,
        deltaker_topic=arena.deltaker_topic,
        hist_deltaker_topic=arena.hist_deltaker_topic,
        amt_topic=arena.amt_topic,
        enkeltplass_topic=arena.enkeltplass_topic,
        timezone=arena.timezone,
        batch_size=arena.batch_size,
        lookup_workers=arena.lookup_workers,
    )


def arena_definitions(settings: Settings) -> Definitions:
    arena = settings.section(ArenaSettings)
    return Definitions(
        assets=[*INPUT_EVENTS, process_arena_ledger, publish_amt_deltakere],
        jobs=[arena_ledger_job, arena_ignored_cleanup_job],
        sensors=[build_arena_sensor(settings, list(arena.input_topics))],
        schedules=[arena_retry_schedule, arena_failed_nightly, arena_ignored_cleanup],
        resources={
            "arena": arena_resource(settings),
            # Mulighetsrommet and amt-tiltak answers are reads: every method may be retried
            "mulighetsrommet": MulighetsrommetApi(base_url=arena.mulighetsrommet_url),
            "ords": OrdsApi(base_url=arena.ords_url),
            "amt_tiltak": AmtTiltakApi(base_url=arena.amt_tiltak_url),
        },
    )
