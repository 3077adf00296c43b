"""Per-challenge configuration from SSM (spec §2): defaults, phases, errors naming the field, TTL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_platform.scoring.rules.config import (
    CONFIG_TTL_SECONDS,
    ChallengeConfig,
    ChallengeConfigError,
    PhaseConfig,
    ScoreDirection,
    config_parameter,
    is_fresh,
    parse_challenge_config,
)

CHALLENGE_ID = "30054692"


def seed_config(**changes: Any) -> dict[str, Any]:
    config = {
        "challengeId": CHALLENGE_ID,
        "scorerType": "ecs",
        "ecsCluster": "mm-scorers",
        "ecsTaskDefinition": "mm-scorer-30054692:3",
        "timeout": 600,
        "memoryLimit": 2048,
    }
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


def three_phases() -> list[dict[str, Any]]:
    return [
        {
            "name": "example",
            "reviewTypeId": "rt-ex",
            "scoreCardId": "sc-1",
            "startSeed": 1,
            "numberOfTests": 3,
        },
        {"name": "provisional", "reviewTypeId": "rt-pr", "scoreCardId": "sc-1", "startSeed": 100},
        {
            "name": "system",
            "reviewTypeId": "rt-sy",
            "scoreCardId": "sc-1",
            "startSeed": 1000,
            "numberOfTests": 50,
        },
    ]


def error_for(value: Any) -> ChallengeConfigError:
    with pytest.raises(ChallengeConfigError) as caught:
        parse_challenge_config(value, CHALLENGE_ID)
    return caught.value


def test_seed_fields_alone_give_the_defaults() -> None:
    config = parse_challenge_config(json.dumps(seed_config()), CHALLENGE_ID)
    assert config == ChallengeConfig(
        challenge_id=CHALLENGE_ID,
        scorer_type="ecs",
        ecs_cluster="mm-scorers",
        ecs_task_definition="mm-scorer-30054692:3",
        timeout_seconds=600,
        memory_limit_mb=2048,
        phases=(PhaseConfig("provisional", None, None, start_seed=1, number_of_tests=10),),
    )
    assert config.score_direction is ScoreDirection.MAXIMIZE
    assert config.relative_scoring_enabled is True
    assert config.max_concurrent == 2


def test_default_phase_takes_top_level_ids_when_given() -> None:
    config = parse_challenge_config(
        seed_config(reviewTypeId="rt", scoreCardId="sc", numberOfTests=4), CHALLENGE_ID
    )
    assert config.phases == (PhaseConfig("provisional", "rt", "sc", 1, 4),)


def test_full_minimize_config_with_three_phases() -> None:
    raw = seed_config(
        scoreDirection="minimize",
        relativeScoringEnabled=False,
        maxConcurrent=4,
        submissionApiUrl="https://api.topcoder-dev.com/v5",
        image="ghcr.io/topcoder/scorer:1",
        command=["python", "score.py", "--fast"],
        phases=three_phases(),
    )
    config = parse_challenge_config(raw, CHALLENGE_ID)
    assert config.score_direction is ScoreDirection.MINIMIZE
    assert (config.relative_scoring_enabled, config.max_concurrent) == (False, 4)
    assert config.command == ("python", "score.py", "--fast")
    assert [p.name for p in config.phases] == ["example", "provisional", "system"]
    assert config.phase("example").seeds == (1, 2, 3)
    assert config.phase("provisional").seeds == tuple(range(100, 110))
    assert config.phase("system").is_final and not config.phase("provisional").is_final
    with pytest.raises(KeyError):
        config.phase("final")


def test_integer_fields_accept_digit_strings() -> None:
    config = parse_challenge_config(seed_config(timeout="600", memoryLimit=2048.0), CHALLENGE_ID)
    assert (config.timeout_seconds, config.memory_limit_mb) == (600, 2048)


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        ("{oops", "value", "is not valid JSON"),
        ("[]", "value", "must be a JSON object, got an array"),
        (seed_config(timeout=None), "timeout", "is missing"),
        (seed_config(ecsCluster=None), "ecsCluster", "is missing"),
        (seed_config(scorerType=""), "scorerType", "is empty"),
        (seed_config(challengeId="999"), "challengeId", "is 999, not the parameter's challenge 30054692"),
        (seed_config(timeout=0), "timeout", "must be between 1 and 86400"),
        (seed_config(timeout=600_000), "timeout", "must be between 1 and 86400"),
        (seed_config(timeout=float("nan")), "timeout", "must be a finite number"),
        (seed_config(memoryLimit="2 GB"), "memoryLimit", "must be an integer, got a string"),
        (seed_config(memoryLimit=True), "memoryLimit", "must be an integer, got a boolean"),
        (seed_config(scoreDirection="UP"), "scoreDirection", "must be MAXIMIZE or MINIMIZE"),
        (seed_config(relativeScoringEnabled="yes"), "relativeScoringEnabled", "must be true or false"),
        (seed_config(maxConcurrent=0), "maxConcurrent", "must be between 1 and 100"),
        (seed_config(submissionApiUrl="api.topcoder.com"), "submissionApiUrl", "must be an http(s) URL"),
        (seed_config(command="python score.py"), "command", "must be a non-empty array of strings"),
        (seed_config(command=["python", 3]), "command[1]", "must be a string"),
        (seed_config(phases=[]), "phases", "must be a non-empty array"),
        (seed_config(phases={"name": "system"}), "phases", "must be a non-empty array"),
        (seed_config(phases=["system"]), "phases[0]", "must be an object"),
        (seed_config(phases=[{"reviewTypeId": "r"}]), "phases[0].name", "is missing"),
        (
            seed_config(phases=[{"name": "final", "reviewTypeId": "r", "scoreCardId": "s"}]),
            "phases[0].name",
            "must be one of",
        ),
        (
            seed_config(phases=[{"name": "system", "scoreCardId": "s"}]),
            "phases[0].reviewTypeId",
            "is missing",
        ),
        (
            seed_config(phases=[{**three_phases()[0], "numberOfTests": 0}]),
            "phases[0].numberOfTests",
            "must be between 1",
        ),
        (
            seed_config(phases=[{**three_phases()[0], "startSeed": -1}]),
            "phases[0].startSeed",
            "must be between 0",
        ),
        (seed_config(phases=three_phases() + three_phases()[:1]), "phases", "names a phase twice"),
        (seed_config(startSeed="first"), "startSeed", "must be an integer"),
        (seed_config(scoreCardId=["sc"]), "scoreCardId", "must be a string or an integer"),
    ],
)
def test_malformed_config_names_the_parameter_and_the_field(raw: Any, field: str, problem: str) -> None:
    error = error_for(raw)
    assert error.parameter == "/mm-processor/challenges/30054692/config"
    assert error.field == field
    assert str(error).startswith(f"/mm-processor/challenges/30054692/config: {field} ")
    assert problem in str(error)


def test_parameter_name_follows_the_spec() -> None:
    assert config_parameter("abc") == "/mm-processor/challenges/abc/config"


@pytest.mark.parametrize(
    ("age", "fresh"),
    [
        (0.0, True),
        (CONFIG_TTL_SECONDS - 0.001, True),
        (CONFIG_TTL_SECONDS, False),
        (3600.0, False),
        (-5.0, False),
    ],
)
def test_cached_config_is_fresh_for_five_minutes(age: float, fresh: bool) -> None:
    assert CONFIG_TTL_SECONDS == 300
    assert is_fresh(fetched_at=1_000.0, now=1_000.0 + age) is fresh


def test_ttl_can_be_chosen() -> None:
    assert is_fresh(0.0, 9.0, ttl_seconds=10) and not is_fresh(0.0, 10.0, ttl_seconds=10)


OPTIONAL_AND_SEED_FIELDS = (
    "timeout",
    "memoryLimit",
    "scoreDirection",
    "relativeScoringEnabled",
    "maxConcurrent",
    "image",
    "command",
    "submissionApiUrl",
    "scorerType",
    "startSeed",
    "numberOfTests",
    "scoreCardId",
)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**400),
    st.floats(),
    st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=12),
    st.lists(st.text(max_size=4), max_size=3),
)
_phase_items = st.dictionaries(
    st.sampled_from(["name", "reviewTypeId", "scoreCardId", "startSeed", "numberOfTests"]),
    _values | st.sampled_from(["system", "example", "provisional"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(OPTIONAL_AND_SEED_FIELDS),
        _values,
    ),
    st.none() | st.lists(_phase_items, max_size=3) | _values,
)
def test_any_values_give_a_config_or_a_config_error(changes: dict[str, Any], phases: Any) -> None:
    raw = {**seed_config(), **changes}
    if phases is not None:
        raw["phases"] = phases
    try:
        config = parse_challenge_config(raw, CHALLENGE_ID)
    except ChallengeConfigError as error:
        assert str(error).startswith("/mm-processor/challenges/30054692/config: ")
    else:
        assert isinstance(config, ChallengeConfig) and config.phases


def test_a_command_argument_is_kept_as_given_with_its_line_breaks() -> None:
    script = "import sys\nfor line in sys.stdin:\n\tprint(line) "
    config = parse_challenge_config(seed_config(command=["python", "-c", script]), CHALLENGE_ID)
    assert config.command == ("python", "-c", script)  # not stripped: the trailing blank stays
    for bad, problem in (("a\x00b", "control characters"), ("", "1 to 4096 characters")):
        with pytest.raises(ChallengeConfigError, match=problem):
            parse_challenge_config(seed_config(command=["python", bad]), CHALLENGE_ID)
