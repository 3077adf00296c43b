"""Marathon Match submission scoring: submission events -> a scorer run per submission and phase
(Dagster Pipes) -> the Submission API and the challenge leaderboard, partitioned by challenge."""

from __future__ import annotations

import json

from mm_platform.core.domain import Domain
from mm_platform.core.settings import EMBEDDED_MOTO_PORT
from mm_platform.scoring.defs.definitions import scoring_definitions
from mm_platform.scoring.dev import stack
from mm_platform.scoring.dev.cli import demo, scoring
from mm_platform.scoring.dev.sample_data import MAXIMIZE_CHALLENGE, submission_event, submission_url
from mm_platform.scoring.settings import ScoringSettings
from mm_platform.scoring.stores import scores_store

EMBEDDED_AWS = f"http://127.0.0.1:{EMBEDDED_MOTO_PORT}"

SCORING = Domain(
    name="scoring",
    settings=ScoringSettings,
    definitions=scoring_definitions,
    commands=[scoring],
    demo=demo,
    samples={
        "submission": lambda: json.dumps(
            submission_event(
                MAXIMIZE_CHALLENGE, "40000001", submission_url(EMBEDDED_AWS, "mm-submissions", "good-1")
            )
        )
    },
    topics=stack.topics,
    standins=stack.standins,
    prepare_stack=stack.prepare_stack,
    metadata=[scores_store.metadata],
)
