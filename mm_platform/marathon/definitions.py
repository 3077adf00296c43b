from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
)

from mm_platform.core.secrets import bound_secret
from mm_platform.core.services import RatingsService
from mm_platform.core.settings import Settings
from mm_platform.marathon.assets import long_comp_result_attendance, review_end_events, round_ratings
from mm_platform.marathon.delegated import (
    build_rating_calculation_sensor,
    ratings_calculation_request,
    round_ratings_external,
)
from mm_platform.marathon.dw_assets import dw_coders, dw_mm_ratings
from mm_platform.marathon.profile_assets import MemberProfileStore, member_search_index, member_stats
from mm_platform.marathon.search_index import MemberSearchIndex
from mm_platform.marathon.sensors import (
    build_review_end_retry_schedule,
    build_review_end_sensor,
    build_round_job,
)


def marathon_definitions(settings: Settings) -> Definitions:
    delegated = settings.ratings_mode == "delegated"
    downstream = [dw_coders, dw_mm_ratings, member_stats, member_search_index]
    if delegated:
        job = build_round_job([long_comp_result_attendance, ratings_calculation_request])
    else:
        job = build_round_job([long_comp_result_attendance, round_ratings, *downstream])
    resources: dict = {
        "member_profiles": MemberProfileStore(
            stats_table=settings.member_stats_table, create_stats_table=settings.embedded
        ),
        "search_index": MemberSearchIndex(
            url=settings.search_url,
            index=settings.search_index,
            username=settings.search_username,
            password=bound_secret("MM_PLATFORM_SEARCH_PASSWORD"),
        ),
    }
    sensors = [
        build_review_end_sensor(settings, job),
        # started with the code location, so manual re-materializations (and in delegated mode the
        # ratings service's reports) propagate down the chain without anyone switching it on
        AutomationConditionSensorDefinition(
            "marathon_automation",
            target=AssetSelection.groups("marathon"),
            default_status=DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=10,
            emit_backfills=False,
            description="Evaluates the eager automation conditions of the round chain.",
        ),
    ]
    if delegated:
        ratings = [ratings_calculation_request, round_ratings_external]
        sensors.append(build_rating_calculation_sensor(settings, job))
        resources["ratings_service"] = RatingsService(
            base_url=settings.ratings_service_url or "",
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
