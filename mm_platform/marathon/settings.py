"""Marathon Match member profiles: its own settings, from the same `MM_PLATFORM_*` variables."""

from __future__ import annotations

from dataclasses import dataclass

from mm_platform.core.settings import EnvReader, SettingsError

IN_PROCESS, DELEGATED = "in_process", "delegated"


@dataclass(frozen=True)
class Topics:
    autopilot: str = "notifications.autopilot.events"
    rating_calculation: str = "notification.rating.calculation"


@dataclass(frozen=True)
class MarathonSettings:
    topics: Topics
    member_stats_table: str
    member_history_table: str
    ratings_mode: str
    ratings_service_url: str | None
    search_url: str | None
    search_index: str
    search_username: str | None

    @property
    def delegated(self) -> bool:
        return self.ratings_mode == DELEGATED

    @classmethod
    def from_env(cls, env: EnvReader) -> MarathonSettings:
        settings = cls(
            topics=Topics(
                autopilot=env.text("TOPIC_AUTOPILOT", Topics.autopilot),
                rating_calculation=env.text("TOPIC_RATING_CALCULATION", Topics.rating_calculation),
            ),
            member_stats_table=env.text("MEMBER_STATS_TABLE", "MemberStats"),
            member_history_table=env.text("MEMBER_HISTORY_TABLE", "MemberHistoryStats"),
            ratings_mode=env.choice("RATINGS_MODE", IN_PROCESS, (IN_PROCESS, DELEGATED)),
            ratings_service_url=env.get("RATINGS_SERVICE_URL"),
            search_url=env.get("SEARCH_URL"),
            search_index=env.text("SEARCH_INDEX", "member-profiles"),
            search_username=env.get("SEARCH_USERNAME"),
        )
        if settings.delegated and not settings.ratings_service_url:
            raise SettingsError(
                "MM_PLATFORM_RATINGS_SERVICE_URL is required with MM_PLATFORM_RATINGS_MODE=delegated"
            )
        return settings
