"""Verified Fan campaign scoring: its own settings, from the same `MM_PLATFORM_*` variables."""

from __future__ import annotations

from dataclasses import dataclass

from mm_platform.core.settings import EMBEDDED_STANDIN_PORT, EnvReader, SettingsError

STANDINS_URL = f"http://127.0.0.1:{EMBEDDED_STANDIN_PORT}"
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3  # a scored file's cap once decompressed
IN_PROCESS = "in_process"
K8S = "k8s"


@dataclass(frozen=True)
class VerifiedFanSettings:
    scoring_bucket: str
    staging_bucket: str  # staged parts go under mm-platform/staged/ there
    demand_table: str
    scores_stream: str | None  # Kinesis scoresStream; unset: not published
    campaign_data_stream: str | None  # Kinesis campaignDataStream; unset: not published
    entry_service_url: str
    campaign_service_url: str
    slack_channel: str
    slack_base_url: str
    write_workers: int
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # a scored file's cap, decompressed
    part_max_attempts: int = 5  # failed step attempts before a staged part is quarantined
    retry_after_minutes: float = 10.0  # parts a failed run left are requested again after this
    # how a campaign run executes its steps: in the run's process, or each step in its own Kubernetes
    # Job (dagster_k8s.k8s_job_executor; only under the K8sRunLauncher)
    executor: str = IN_PROCESS

    @classmethod
    def from_env(cls, env: EnvReader) -> VerifiedFanSettings:
        scoring_bucket = env.required_in_production("VF_SCORING_BUCKET", "vf-scoring")
        settings = cls(
            scoring_bucket=scoring_bucket,
            staging_bucket=env.text("VF_STAGING_BUCKET", scoring_bucket),
            demand_table=env.required_in_production("VF_DEMAND_TABLE", "vf-demand"),
            scores_stream=env.embedded_only("VF_SCORES_STREAM", "vf-scores"),
            campaign_data_stream=env.embedded_only("VF_CAMPAIGN_DATA_STREAM", "vf-campaign-data"),
            entry_service_url=env.required_in_production("VF_ENTRY_SERVICE_URL", STANDINS_URL),
            campaign_service_url=env.required_in_production("VF_CAMPAIGN_SERVICE_URL", STANDINS_URL),
            slack_channel=env.text("VF_SLACK_CHANNEL", "#vf-scoring"),
            slack_base_url=env.text("SLACK_BASE_URL", "https://slack.com/api/"),
            write_workers=env.integer("VF_WRITE_WORKERS", 4),
            max_file_bytes=env.integer("VF_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES),
            part_max_attempts=env.integer("VF_PART_MAX_ATTEMPTS", 5),
            retry_after_minutes=env.number("VF_RETRY_AFTER_MINUTES", 10.0),
            executor=env.choice("VF_EXECUTOR", IN_PROCESS, (IN_PROCESS, K8S)),
        )
        if settings.write_workers < 1:
            raise SettingsError("MM_PLATFORM_VF_WRITE_WORKERS must be at least 1")
        if settings.retry_after_minutes < 0:
            raise SettingsError("MM_PLATFORM_VF_RETRY_AFTER_MINUTES must not be negative")
        if settings.part_max_attempts < 1:
            raise SettingsError("MM_PLATFORM_VF_PART_MAX_ATTEMPTS must be at least 1")
        if settings.max_file_bytes < 1:
            raise SettingsError("MM_PLATFORM_VF_MAX_FILE_BYTES must be at least 1")
        return settings
