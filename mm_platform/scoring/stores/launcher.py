"""What every scorer launcher offers the scoring asset (spec §3): score one submission in one phase
through Dagster Pipes and say how it went. The launcher is picked by settings; the asset code is the same.

A launcher never raises for the scorer's own failures (non-zero exit, timeout, launch refused): those
are an outcome with a `failure` reason worded by `rules.scores`. It raises only for a programming error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dagster import AssetExecutionContext, OpExecutionContext

from mm_platform.scoring.rules.config import ChallengeConfig, PhaseConfig
from mm_platform.scoring.rules.scores import scorer_environment, scorer_extras


@dataclass(frozen=True)
class ScorerRequest:
    challenge: ChallengeConfig
    phase: PhaseConfig
    submission_id: str
    url: str

    @property
    def extras(self) -> dict[str, Any]:
        """Pipes extras: submission, URL, phase, seeds, test count (never a secret)."""
        return scorer_extras(self.submission_id, self.challenge.challenge_id, self.url, self.phase)

    @property
    def environment(self) -> dict[str, str]:
        return scorer_environment(self.extras)


@dataclass(frozen=True)
class ScorerOutcome:
    # the scorer's report as it sent it ({"score", "testScores"}); the caller validates it
    reported: Any | None
    # why the scorer did not deliver (exit code, timeout, launch failure), worded by rules.scores
    failure: str | None
    # what an operator looks up: the process id, the ECS task ARN, the pod name
    reference: str
    # the scorer's own run time, for the benchmark's "where the seconds go"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None and self.reported is not None


class ScorerLauncher(Protocol):
    def score(
        self, context: AssetExecutionContext | OpExecutionContext, request: ScorerRequest
    ) -> ScorerOutcome: ...
