"""Secrets reach resources by name, never by value: Dagster resolves an `EnvVar` when the resource is
used and never shows it in the UI or run config."""

from __future__ import annotations

import os

from dagster import EnvVar


def bound_secret(name: str) -> EnvVar | None:
    """The environment variable `name` bound as a secret, or None when it is not set."""
    return EnvVar(name) if os.environ.get(name) else None
