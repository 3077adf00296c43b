from dagster import Definitions

from mm_platform.core.settings import Settings
from mm_platform.marathon.assets import long_comp_result_attendance, review_end_events, round_ratings
from mm_platform.marathon.dw_assets import dw_coders, dw_mm_ratings
from mm_platform.marathon.profile_assets import MemberProfileStore, member_search_index, member_stats
from mm_platform.marathon.sensors import (
    build_review_end_retry_schedule,
    build_review_end_sensor,
    marathon_round_job,
)


def marathon_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=[
            review_end_events,
            long_comp_result_attendance,
            round_ratings,
            dw_coders,
            dw_mm_ratings,
            member_stats,
            member_search_index,
        ],
        jobs=[marathon_round_job],
        sensors=[build_review_end_sensor(settings)],
        schedules=[build_review_end_retry_schedule(settings)],
        resources={
            "member_profiles": MemberProfileStore(
                stats_table=settings.member_stats_table, create_stats_table=settings.embedded
            )
        },
    )
