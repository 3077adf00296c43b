"""Marathon Match member profiles: a review-END event -> attendance -> ratings -> DW -> member stats
-> search index, partitioned by round."""

from __future__ import annotations

import json

from mm_platform.core.domain import Domain
from mm_platform.marathon.defs.definitions import marathon_definitions
from mm_platform.marathon.dev import stack
from mm_platform.marathon.dev.cli import demo, trace
from mm_platform.marathon.dev.sample_data import review_end_event
from mm_platform.marathon.settings import MarathonSettings
from mm_platform.marathon.stores.round_ratings import create_rating_input_table

MARATHON = Domain(
    name="marathon",
    settings=MarathonSettings,
    definitions=marathon_definitions,
    commands=[trace],
    demo=demo,
    samples={"review-end": lambda: json.dumps(review_end_event())},
    topics=stack.topics,
    prepare_stack=stack.prepare_stack,
    foreign_tables=lambda settings: create_rating_input_table(settings.oltp_db_url),
)
