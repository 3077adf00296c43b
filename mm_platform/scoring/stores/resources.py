"""The scoring resource: which launcher runs the scorers (settings pick it, the asset code is the
same) and the scoring policy (reviewer id, attempts)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from mm_platform.scoring.stores.launcher import ScorerLauncher


class ScoringResource(ConfigurableResource):
    launcher_kind: str = Field(default="local", description="local (Pipes subprocess) | ecs | k8s")
    reviewer_id: str = Field(default="mm-platform-scorer", description="reviewerId of the posted reviews")
    max_attempts: int = Field(default=3, description="scorer attempts per submission and phase")
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = None
    ecs_subnets: list[str] = Field(default_factory=list)
    ecs_security_groups: list[str] = Field(default_factory=list)
    ecs_container: str = "scorer"
    k8s_namespace: str = "mm-scoring"

    def launcher(self) -> ScorerLauncher:
        if self.launcher_kind == "local":
            from mm_platform.scoring.stores.local_launcher import LocalScorerLauncher

            return LocalScorerLauncher()
        raise ValueError(f"unknown scorer launcher {self.launcher_kind!r}")
