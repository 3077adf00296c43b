"""The Arena ACL's settings, from the same `MM_PLATFORM_*` variables (names as in the original's
`.nais` files: the topics, and the three lookups' base URLs)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mm_platform.core.settings import EMBEDDED_STANDIN_PORT, EnvReader, SettingsError

# one local app answers for Mulighetsrommet, ORDS and amt-tiltak in the embedded stack
LOOKUPS_STANDIN_URL = f"http://127.0.0.1:{EMBEDDED_STANDIN_PORT + 2}"


@dataclass(frozen=True)
class ArenaSettings:
    gjennomforing_topic: str
    deltaker_topic: str
    hist_deltaker_topic: str
    amt_topic: str  # amt.amt-tiltak-v1: the AMT envelope
    enkeltplass_topic: str  # amt.arena-enkeltplass-deltaker-v1: the bare deltaker
    mulighetsrommet_url: str
    ords_url: str
    amt_tiltak_url: str
    batch_size: int  # ledger rows read per page by a processing run
    lookup_workers: int  # person lookups in flight at once while a page is prepared
    timezone: str  # Arena's local time zone: "today" in the status rules, the envelope timestamp

    @property
    def input_topics(self) -> tuple[str, str, str]:
        return (self.gjennomforing_topic, self.deltaker_topic, self.hist_deltaker_topic)

    @classmethod
    def from_env(cls, env: EnvReader) -> ArenaSettings:
        settings = cls(
            gjennomforing_topic=env.text(
                "ARENA_TILTAKGJENNOMFORING_TOPIC", "teamarenanais.aapen-arena-tiltakgjennomforingendret-v1-p"
            ),
            deltaker_topic=env.text(
                "ARENA_TILTAK_DELTAKER_TOPIC", "teamarenanais.aapen-arena-tiltakdeltakerendret-v1-p"
            ),
            hist_deltaker_topic=env.text(
                "ARENA_HIST_TILTAK_DELTAKER_TOPIC", "teamarenanais.aapen-arena-histtiltakdeltakerendret-v1-p"
            ),
            amt_topic=env.text("ARENA_AMT_TOPIC", "amt.amt-tiltak-v1"),
            enkeltplass_topic=env.text("ARENA_AMT_ENKELTPLASS_TOPIC", "amt.arena-enkeltplass-deltaker-v1"),
            mulighetsrommet_url=env.required_in_production("ARENA_MULIGHETSROMMET_URL", LOOKUPS_STANDIN_URL),
            ords_url=env.required_in_production("ARENA_ORDS_URL", LOOKUPS_STANDIN_URL),
            amt_tiltak_url=env.required_in_production("ARENA_AMT_TILTAK_URL", LOOKUPS_STANDIN_URL),
            batch_size=env.integer("ARENA_BATCH_SIZE", 5000),
            lookup_workers=env.integer("ARENA_LOOKUP_WORKERS", 8),
            timezone=env.text("ARENA_TIMEZONE", "Europe/Oslo"),
        )
        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"MM_PLATFORM_ARENA_TIMEZONE {settings.timezone!r} is not a time zone"
            ) from exc
        if settings.batch_size < 1:
            raise SettingsError("MM_PLATFORM_ARENA_BATCH_SIZE must be at least 1")
        if settings.lookup_workers < 1:
            raise SettingsError("MM_PLATFORM_ARENA_LOOKUP_WORKERS must be at least 1")
        if len({*settings.input_topics, settings.amt_topic, settings.enkeltplass_topic}) != 5:
            raise SettingsError("the three Arena topics and the two AMT topics must be five different topics")
        return settings
