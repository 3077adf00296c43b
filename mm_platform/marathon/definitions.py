from dagster import Definitions

from mm_platform.core.settings import Settings
from mm_platform.marathon.assets import long_comp_result_attendance, review_end_events
from mm_platform.marathon.sensors import (
    build_review_end_retry_schedule,
    build_review_end_sensor,
    marathon_round_job,
)


def marathon_definitions(settings: Settings) -> Definitions:
    return Definitions(
        assets=[review_end_events, long_comp_result_attendance],
        jobs=[marathon_round_job],
        sensors=[build_review_end_sensor(settings)],
        schedules=[build_review_end_retry_schedule(settings)],
    )
