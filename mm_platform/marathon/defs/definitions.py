"""The marathon domain's Dagster definitions for the settings (in-process or delegated ratings)."""

from dagster import Definitions

from mm_platform.core.automation import automation_sensor
from mm_platform.core.secrets import bound_secret, bound_url
from mm_platform.core.services import RatingsService
from mm_platform.core.settings import Settings
from mm_platform.marathon.defs.assets import (
    GROUP,
    long_comp_result_attendance,
    review_end_events,
    round_ratings,
)
from mm_platform.marathon.defs.delegated import (
    build_rating_calculation_sensor,
    ratings_calculation_request,
    round_ratings_external,
)
from mm_platform.marathon.defs.dw_assets import dw_coders, dw_mm_ratings
from mm_platform.marathon.defs.profile_assets import (
    MemberProfileStore,
    build_member_search_index,
    member_stats,
)
from mm_platform.marathon.defs.sensors import (
    build_review_end_retry_schedule,
    build_review_end_sensor,
    build_round_job,
)
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores.search_index import MemberSearchIndex


def marathon_definitions(settings: Settings) -> Definitions:
    marathon = settings.section(MarathonSettings)
    delegated = marathon.delegated
    member_search_index = build_member_search_index(opensearch=marathon.search_url is not None)
    downstream = [dw_coders, dw_mm_ratings, member_stats, member_search_index]
    if delegated:
        job = build_round_job([long_comp_result_attendance, ratings_calculation_request])
    else:
        job = build_round_job([long_comp_result_attendance, round_ratings, *downstream])
    resources: dict = {
        "member_profiles": MemberProfileStore(
            stats_table=marathon.member_stats_table,
            history_table=marathon.member_history_table,
            create_tables=settings.embedded,
        ),
        "search_index": MemberSearchIndex(
            url=marathon.search_url and bound_url(marathon.search_url, "MM_PLATFORM_SEARCH_URL"),
            index=marathon.search_index,
            username=marathon.search_username,
            password=bound_secret("MM_PLATFORM_SEARCH_PASSWORD"),
        ),
    }
    sensors = [
        build_review_end_sensor(settings, job),
        # started with the code location, so manual re-materializations (and in delegated mode the
        # ratings service's reports) propagate down the chain without anyone switching it on
        automation_sensor(
            GROUP, "Propagates re-materializations (and reported ratings) down the round chain."
        ),
    ]
    if delegated:
        ratings = [ratings_calculation_request, round_ratings_external]
        sensors.append(build_rating_calculation_sensor(settings, job))
        resources["ratings_service"] = RatingsService(
            base_url=bound_url(marathon.ratings_service_url or "", "MM_PLATFORM_RATINGS_SERVICE_URL"),
            token=bound_secret("MM_PLATFORM_RATINGS_SERVICE_TOKEN"),
        )
    else:
        ratings = [round_ratings]
    return Definitions(
        assets=[review_end_events, long_comp_result_attendance, *ratings, *downstream],
        jobs=[job.definition],
        sensors=sensors,
        schedules=[build_review_end_retry_schedule(settings, job)],
        resources=resources,
    )
