"""Per-challenge configuration and the Submission API token from SSM Parameter Store (spec §2).

Every run of every challenge needs its configuration, so the parameters are cached per process (a
5-minute TTL, spec §2) instead of being read once per event. The cache is process-wide, keyed by the
SSM endpoint, region and parameter, so two resources built from the same settings share it. A
missing configuration is cached too, but briefly: a challenge configured a moment later is seen within
seconds. A malformed one is never cached: it raises on every read until it is fixed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, PrivateAttr

from mm_platform.core.aws import Boto3ClientResource
from mm_platform.scoring.rules.config import (
    CONFIG_TTL_SECONDS,
    TOKEN_PARAMETER,
    ChallengeConfig,
    ChallengeConfigError,
    config_parameter,
    is_fresh,
    parse_challenge_config,
)

# short, so that creating a challenge's configuration takes effect almost at once
NOT_FOUND_TTL_SECONDS = 10.0


@dataclass(frozen=True)
class _Entry:
    # the parameter's raw value (None: the parameter does not exist); repr=False keeps the token out
    # of any traceback or debugger dump that shows the cache
    value: str | None = field(repr=False)
    fetched_at: float


_cache: dict[tuple[str, str, str], _Entry] = {}
_cache_lock = threading.Lock()
_read_locks: dict[tuple[str, str, str], threading.Lock] = {}


def clear_cache() -> None:
    """Forget every cached parameter (tests; `put_*` forgets only the parameter it wrote)."""
    with _cache_lock:
        _cache.clear()


class ChallengeConfigStore(Boto3ClientResource):
    """Reads `/mm-processor/challenges/{id}/config` and the SecureString token from SSM, cached."""

    ttl_seconds: float = Field(default=CONFIG_TTL_SECONDS, description="how long a read value is used")
    not_found_ttl_seconds: float = Field(
        default=NOT_FOUND_TTL_SECONDS, description="how long 'no such parameter' is believed"
    )
    # seconds from an arbitrary origin; tests inject a fake one instead of sleeping through the TTL
    _clock: Callable[[], float] = PrivateAttr(default=time.monotonic)

    def with_clock(self, clock: Callable[[], float]) -> ChallengeConfigStore:
        """This store reading time from `clock` (tests)."""
        self._clock = clock
        return self

    def config(self, challenge_id: str) -> ChallengeConfig | None:
        """The challenge's configuration; None when it has none; ChallengeConfigError when malformed."""
        parameter = config_parameter(challenge_id)
        value = self._value(parameter)
        if value is None:
            return None
        try:
            return parse_challenge_config(value, challenge_id)
        except ChallengeConfigError:
            self._forget(parameter)  # the next read sees the fix at once
            raise

    def token(self) -> str | None:
        """The Submission API bearer token, decrypted; None when the parameter is missing or empty."""
        value = self._value(TOKEN_PARAMETER)
        return (value.strip() or None) if value is not None else None

    def put_config(self, challenge_id: str, config: dict[str, Any]) -> None:
        """Store a challenge's configuration (dev stack, demos, tests); this process sees it at once."""
        parameter = config_parameter(challenge_id)
        self._ssm().put_parameter(Name=parameter, Value=json.dumps(config), Type="String", Overwrite=True)
        self._forget(parameter)

    def put_token(self, value: str) -> None:
        """Store the Submission API token as a SecureString (dev stack, tests)."""
        self._ssm().put_parameter(Name=TOKEN_PARAMETER, Value=value, Type="SecureString", Overwrite=True)
        self._forget(TOKEN_PARAMETER)

    def _ssm(self) -> Any:
        return self.client("ssm")

    def _key(self, parameter: str) -> tuple[str, str, str]:
        return (self.endpoint_url or "aws", self.region_name or "", parameter)

    def _forget(self, parameter: str) -> None:
        with _cache_lock:
            _cache.pop(self._key(parameter), None)

    def _value(self, parameter: str) -> str | None:
        key = self._key(parameter)
        found = self._cached(key)
        if found is not None:
            return found[0]
        # one reader per parameter: the runs that start together after an expiry share one SSM call
        # (SSM throttles GetParameter), and a slow read does not hold up other parameters
        with _cache_lock:
            key_lock = _read_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self._cached(key)
            if found is not None:
                return found[0]
            now = self._clock()
            value = self._read(parameter)
            with _cache_lock:
                _cache[key] = _Entry(value, now)
            return value

    def _cached(self, key: tuple[str, str, str]) -> tuple[str | None] | None:
        """(value,) when a fresh copy is cached (the value may be None: not found), else None."""
        with _cache_lock:
            entry = _cache.get(key)
        if entry is None:
            return None
        ttl = self.ttl_seconds if entry.value is not None else self.not_found_ttl_seconds
        return (entry.value,) if is_fresh(entry.fetched_at, self._clock(), ttl) else None

    def _read(self, parameter: str) -> str | None:
        try:
            answer = self._ssm().get_parameter(Name=parameter, WithDecryption=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return None
            raise
        return answer["Parameter"]["Value"]
