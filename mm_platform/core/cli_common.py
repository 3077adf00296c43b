"""What every `mm-platform` command group needs."""

from __future__ import annotations

import click

from mm_platform.core.settings import Settings, SettingsError


def load_settings() -> Settings:
    """The settings from MM_PLATFORM_* variables; a bad one ends the command with its message."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
