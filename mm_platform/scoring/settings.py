"""Marathon Match submission scoring: its own settings, from the same `MM_PLATFORM_*` variables."""

from __future__ import annotations

from dataclasses import dataclass

from mm_platform.core.settings import EMBEDDED_STANDIN_PORT, EnvReader, SettingsError

# the Submission API stand-in listens next to the Verified Fan stand-ins
SUBMISSION_API_STANDIN_URL = f"http://127.0.0.1:{EMBEDDED_STANDIN_PORT + 1}"
LAUNCHERS = ("local", "ecs", "k8s")


@dataclass(frozen=True)
class ScoringSettings:
    topic: str  # submission events (seed shape or the Topcoder bus envelope)
    launcher: str  # local (Pipes subprocess) | ecs (Fargate) | k8s (a pod)
    submission_api_url: str  # the default; a challenge config may name its own
    reviewer_id: str  # the reviewerId of the reviews the platform posts
    max_attempts: int  # scorer attempts per submission and phase before the dead letter
    max_scorers_per_run: int  # caps a config's maxConcurrent: scorers in flight <= run pool x this
    submissions_bucket: str | None  # embedded: where the sample submissions are served from
    ecs_subnets: tuple[str, ...]
    ecs_security_groups: tuple[str, ...]
    ecs_container: str  # the task definition's scorer container (its CloudWatch stream carries Pipes)
    k8s_namespace: str
    k8s_kubeconfig_file: str | None  # unset: the in-cluster service account

    @classmethod
    def from_env(cls, env: EnvReader) -> ScoringSettings:
        settings = cls(
            topic=env.text("SCORING_TOPIC", "submissions"),
            launcher=env.choice("SCORING_LAUNCHER", "local", LAUNCHERS),
            submission_api_url=env.required_in_production(
                "SCORING_SUBMISSION_API_URL", SUBMISSION_API_STANDIN_URL
            ),
            reviewer_id=env.text("SCORING_REVIEWER_ID", "mm-platform-scorer"),
            max_attempts=env.integer("SCORING_MAX_ATTEMPTS", 3),
            max_scorers_per_run=env.integer("SCORING_MAX_SCORERS_PER_RUN", 4),
            submissions_bucket=env.embedded_only("SCORING_SUBMISSIONS_BUCKET", "mm-submissions"),
            ecs_subnets=_names(env.get("SCORING_ECS_SUBNETS")),
            ecs_security_groups=_names(env.get("SCORING_ECS_SECURITY_GROUPS")),
            ecs_container=env.text("SCORING_ECS_CONTAINER", "scorer"),
            k8s_namespace=env.text("SCORING_K8S_NAMESPACE", "mm-scoring"),
            k8s_kubeconfig_file=env.get("SCORING_K8S_KUBECONFIG"),
        )
        if settings.max_attempts < 1:
            raise SettingsError("MM_PLATFORM_SCORING_MAX_ATTEMPTS must be at least 1")
        if settings.max_scorers_per_run < 1:
            raise SettingsError("MM_PLATFORM_SCORING_MAX_SCORERS_PER_RUN must be at least 1")
        if settings.launcher == "ecs" and not settings.ecs_subnets:
            # awsvpc tasks without a subnet are refused by RunTask: say so at start, not per submission
            raise SettingsError("MM_PLATFORM_SCORING_ECS_SUBNETS is required with the ecs launcher")
        return settings


def _names(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())
