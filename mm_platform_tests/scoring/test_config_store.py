"""ChallengeConfigStore against a moto server: parsing, missing and malformed parameters, the TTL cache
(with a fake clock, not sleeps) and the SecureString token that never shows up in reprs or errors."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mm_platform.core.aws import EMBEDDED_CREDENTIALS
from mm_platform.core.devstack import free_port
from mm_platform.scoring.rules.config import (
    CONFIG_TTL_SECONDS,
    TOKEN_PARAMETER,
    ChallengeConfigError,
    config_parameter,
)
from mm_platform.scoring.stores import config_store
from mm_platform.scoring.stores.config_store import NOT_FOUND_TTL_SECONDS, ChallengeConfigStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_store(endpoint: str, clock: FakeClock, region: str = "us-east-1") -> ChallengeConfigStore:
    store = ChallengeConfigStore(
        endpoint_url=endpoint, region_name=region, max_attempts=1, **EMBEDDED_CREDENTIALS
    )
    return store.with_clock(clock)


@pytest.fixture
def store(moto_endpoint: str, clock: FakeClock) -> ChallengeConfigStore:
    return make_store(moto_endpoint, clock)


def new_challenge() -> str:
    # unique per test: the moto server and the process-wide cache are shared by the session
    return f"c-{uuid.uuid4().hex[:12]}"


def seed_config(challenge_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "challengeId": challenge_id,
        "scorerType": "ecs",
        "ecsCluster": "mm-scorers",
        "ecsTaskDefinition": "mm-scorer:3",
        "timeout": 600,
        "memoryLimit": 2048,
        **changes,
    }


def write_directly(store: ChallengeConfigStore, name: str, value: str) -> None:
    """Another process (an operator, the console) changing the parameter: this process's cache is not told."""
    store.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def test_config_is_read_and_parsed(store: ChallengeConfigStore) -> None:
    challenge = new_challenge()
    phases = [{"name": "system", "reviewTypeId": "rt-1", "scoreCardId": "sc-1", "numberOfTests": 5}]
    store.put_config(challenge, seed_config(challenge, submissionApiUrl="http://api.local/v5", phases=phases))
    config = store.config(challenge)
    assert config is not None
    assert (config.challenge_id, config.ecs_cluster, config.timeout_seconds) == (challenge, "mm-scorers", 600)
    assert config.submission_api_url == "http://api.local/v5"
    assert config.phase("system").seeds == (1, 2, 3, 4, 5)


def test_missing_parameter_is_none(store: ChallengeConfigStore) -> None:
    assert store.config(new_challenge()) is None


def test_malformed_json_names_the_parameter(store: ChallengeConfigStore) -> None:
    challenge = new_challenge()
    write_directly(store, config_parameter(challenge), '{"challengeId": ')
    with pytest.raises(ChallengeConfigError) as raised:
        store.config(challenge)
    assert raised.value.parameter == config_parameter(challenge)
    assert config_parameter(challenge) in str(raised.value)
    assert "not valid JSON" in str(raised.value)


def test_malformed_config_is_not_cached(store: ChallengeConfigStore) -> None:
    challenge = new_challenge()
    write_directly(store, config_parameter(challenge), json.dumps(seed_config(challenge, timeout=0)))
    with pytest.raises(ChallengeConfigError, match="timeout"):
        store.config(challenge)
    write_directly(store, config_parameter(challenge), json.dumps(seed_config(challenge)))
    config = store.config(challenge)  # the fix is seen without waiting for any TTL
    assert config is not None and config.timeout_seconds == 600


def test_changed_parameter_is_reread_only_after_the_ttl(
    store: ChallengeConfigStore, clock: FakeClock
) -> None:
    challenge = new_challenge()
    store.put_config(challenge, seed_config(challenge, timeout=600))
    assert store.config(challenge).timeout_seconds == 600  # type: ignore[union-attr]
    write_directly(store, config_parameter(challenge), json.dumps(seed_config(challenge, timeout=900)))
    clock.advance(CONFIG_TTL_SECONDS - 1)
    assert store.config(challenge).timeout_seconds == 600  # type: ignore[union-attr]
    clock.advance(1)
    assert store.config(challenge).timeout_seconds == 900  # type: ignore[union-attr]


def test_cache_is_shared_by_stores_with_the_same_endpoint(moto_endpoint: str, clock: FakeClock) -> None:
    first, second = make_store(moto_endpoint, clock), make_store(moto_endpoint, clock)
    challenge = new_challenge()
    first.put_config(challenge, seed_config(challenge, timeout=600))
    assert first.config(challenge).timeout_seconds == 600  # type: ignore[union-attr]
    write_directly(first, config_parameter(challenge), json.dumps(seed_config(challenge, timeout=900)))
    assert second.config(challenge).timeout_seconds == 600  # type: ignore[union-attr]


def test_a_clock_that_went_backwards_rereads(store: ChallengeConfigStore, clock: FakeClock) -> None:
    challenge = new_challenge()
    store.put_config(challenge, seed_config(challenge, timeout=600))
    assert store.config(challenge).timeout_seconds == 600  # type: ignore[union-attr]
    write_directly(store, config_parameter(challenge), json.dumps(seed_config(challenge, timeout=900)))
    clock.advance(-1)
    assert store.config(challenge).timeout_seconds == 900  # type: ignore[union-attr]


def test_not_found_is_cached_briefly(store: ChallengeConfigStore, clock: FakeClock) -> None:
    challenge = new_challenge()
    assert store.config(challenge) is None
    write_directly(store, config_parameter(challenge), json.dumps(seed_config(challenge)))
    clock.advance(NOT_FOUND_TTL_SECONDS - 1)
    assert store.config(challenge) is None
    clock.advance(1)
    assert store.config(challenge) is not None


def test_put_config_is_seen_at_once(store: ChallengeConfigStore) -> None:
    challenge = new_challenge()
    assert store.config(challenge) is None
    store.put_config(challenge, seed_config(challenge))
    assert store.config(challenge) is not None


def test_token_is_decrypted_and_never_shown(moto_endpoint: str, clock: FakeClock) -> None:
    # a region of its own: the token's parameter name is the same for every test
    store = make_store(moto_endpoint, clock, region="eu-west-3")
    secret = f"tok-{uuid.uuid4().hex}"
    assert store.token() is None
    store.put_token(secret)
    assert store.token() == secret
    raw = store.client("ssm").get_parameter(Name=TOKEN_PARAMETER)["Parameter"]
    assert raw["Type"] == "SecureString" and raw["Value"] != secret  # stored encrypted
    assert secret not in repr(store) and secret not in str(store)
    assert secret not in repr(config_store._cache)

    # once the cached token expires and SSM cannot be reached, the error does not carry it either
    dead = make_store(f"http://127.0.0.1:{free_port()}", clock, region="eu-west-3")
    with pytest.raises(Exception) as raised:
        dead.token()
    assert secret not in str(raised.value) and secret not in repr(raised.value)


def test_token_is_cached_with_the_ttl(moto_endpoint: str, clock: FakeClock) -> None:
    store = make_store(moto_endpoint, clock, region="eu-west-2")
    store.put_token("first")
    assert store.token() == "first"
    store.client("ssm").put_parameter(
        Name=TOKEN_PARAMETER, Value="second", Type="SecureString", Overwrite=True
    )
    clock.advance(CONFIG_TTL_SECONDS - 1)
    assert store.token() == "first"
    clock.advance(1)
    assert store.token() == "second"


def test_concurrent_readers_share_one_read(
    store: ChallengeConfigStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    challenge = new_challenge()
    store.put_config(challenge, seed_config(challenge))
    reads: list[str] = []
    read = ChallengeConfigStore._read

    def counted(self: ChallengeConfigStore, parameter: str) -> str | None:
        reads.append(parameter)
        return read(self, parameter)

    monkeypatch.setattr(ChallengeConfigStore, "_read", counted)
    with ThreadPoolExecutor(max_workers=8) as pool:
        configs = list(pool.map(lambda _: store.config(challenge), range(16)))
    assert configs[0] is not None and configs[0].challenge_id == challenge
    assert all(config == configs[0] for config in configs)
    assert reads == [config_parameter(challenge)]
