"""The `scoring` branch of the platform database's migrations (see mm_platform/core/migrations)."""

from pathlib import Path

VERSIONS = Path(__file__).parent
