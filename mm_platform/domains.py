"""The registered domains: the only module that imports every domain. Adding a domain is one line."""

from __future__ import annotations

from collections.abc import Mapping

from mm_platform.arena.domain import ARENA
from mm_platform.core.domain import Domain
from mm_platform.core.settings import Settings
from mm_platform.marathon.domain import MARATHON
from mm_platform.scoring.domain import SCORING
from mm_platform.verified_fan.domain import VERIFIED_FAN

DOMAINS: tuple[Domain, ...] = (MARATHON, VERIFIED_FAN, SCORING, ARENA)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Core settings and every domain's, validated now (a bad variable fails here, named)."""
    return Settings.from_env(env, sections=[d.settings for d in DOMAINS])
