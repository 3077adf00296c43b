"""Secrets reach resources by name, never by value: Dagster resolves an `EnvVar` when the resource is
used and never shows it in the UI, run config or logs."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from dagster import EnvVar
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def bound_secret(name: str) -> EnvVar | None:
    """The environment variable `name` bound as a secret, or None when it is not set."""
    return EnvVar(name) if os.environ.get(name) else None


def has_credentials(url: str) -> bool:
    """Whether a URL carries a password (a database URL) or user information (an HTTP URL)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return "@" in parts.netloc
    try:
        return bool(make_url(url).password)
    except ArgumentError:
        return False


def bound_url(url: str, env_name: str) -> str:
    """`url` as configuration: the environment variable it came from when it holds credentials (so
    the UI shows the name), the plain URL otherwise (an embedded default, a URL without secrets)."""
    if has_credentials(url) and os.environ.get(env_name) == url:
        return EnvVar(env_name)
    if has_credentials(url):
        raise ValueError(f"a URL with credentials must come from ${env_name}, not from code")
    return url


def redacted(url: str | None) -> str | None:
    """The URL to show a person: its password (or HTTP user information) replaced by ***."""
    if url is None or not has_credentials(url):
        return url
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()
    return make_url(url).render_as_string(hide_password=True)
