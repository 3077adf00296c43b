"""Verified Fan campaign scoring: scored files in S3 -> demand table -> exact campaign counts ->
Slack verdicts, partitioned by campaign."""

from __future__ import annotations

from mm_platform.core.domain import Domain
from mm_platform.verified_fan.defs.definitions import verified_fan_definitions
from mm_platform.verified_fan.dev import stack
from mm_platform.verified_fan.dev.cli import demo, vf
from mm_platform.verified_fan.settings import VerifiedFanSettings
from mm_platform.verified_fan.stores import ledger

VERIFIED_FAN = Domain(
    name="verified-fan",
    settings=VerifiedFanSettings,
    definitions=verified_fan_definitions,
    commands=[vf],
    demo=demo,
    standins=stack.standins,
    prepare_stack=stack.prepare_stack,
    metadata=[ledger.metadata],
)
