"""The scoring resource: which launcher runs the scorers (settings pick it, the asset code is the
same) and the scoring policy (reviewer id, attempts)."""

from __future__ import annotations

from pydantic import Field

from mm_platform.core.aws import Boto3ClientResource
from mm_platform.scoring.stores.launcher import ScorerLauncher


class ScoringResource(Boto3ClientResource):
    launcher_kind: str = Field(default="local", description="local (Pipes subprocess) | ecs | k8s")
    reviewer_id: str = Field(default="mm-platform-scorer", description="reviewerId of the posted reviews")
    max_attempts: int = Field(default=3, description="scorer attempts per submission and phase")
    max_scorers_per_run: int = Field(
        default=4, description="scorers of one challenge run at once at most, whatever maxConcurrent says"
    )
    ecs_subnets: list[str] = Field(default_factory=list, description="awsvpc subnets of scorer tasks")
    ecs_security_groups: list[str] = Field(default_factory=list)
    ecs_container: str = Field(default="scorer", description="the task definition's scorer container")
    k8s_namespace: str = "mm-scoring"
    k8s_kubeconfig_file: str | None = Field(default=None, description="unset: in-cluster service account")

    def launcher(self) -> ScorerLauncher:
        # imported on use: each launcher pulls in its own client library
        if self.launcher_kind == "local":
            from mm_platform.scoring.stores.local_launcher import LocalScorerLauncher

            return LocalScorerLauncher()
        if self.launcher_kind == "ecs":
            from mm_platform.scoring.stores.ecs_launcher import EcsNetwork, EcsScorerLauncher

            network = EcsNetwork(tuple(self.ecs_subnets), tuple(self.ecs_security_groups))
            return EcsScorerLauncher(self.client("ecs"), self.client("logs"), network, self.ecs_container)
        if self.launcher_kind == "k8s":
            from mm_platform.scoring.stores.k8s_launcher import K8sScorerLauncher

            return K8sScorerLauncher(self.k8s_namespace, self.k8s_kubeconfig_file)
        raise ValueError(f"unknown scorer launcher {self.launcher_kind!r} (local, ecs or k8s)")
