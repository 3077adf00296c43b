"""Per-challenge scoring configuration (spec §2). Pure: no Dagster, no I/O.

The resource reads `/mm-processor/challenges/{challengeId}/config` from SSM; this module turns its
value into a ChallengeConfig or a ChallengeConfigError naming the parameter and the field, and decides
when a cached copy is still fresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from mm_platform.scoring.rules import fields
from mm_platform.scoring.rules.fields import FieldError

TOKEN_PARAMETER = "/mm-processor/auth0/token"
CONFIG_TTL_SECONDS = 300.0
PHASE_NAMES = ("example", "provisional", "system")
DEFAULT_MAX_CONCURRENT = 2
# bounds a production scorer never needs to exceed: a typo (ms for s, KiB for MiB) is caught early
MAX_TIMEOUT_SECONDS = 24 * 3600
MAX_MEMORY_MB = 120 * 1024
MAX_TESTS_PER_PHASE = 10_000
MAX_CONCURRENT_LIMIT = 100
MAX_CONFIG_CHARS = 64 * 1024
MAX_ARGUMENT_CHARS = 4096
DEFAULT_START_SEED = 1
DEFAULT_NUMBER_OF_TESTS = 10


class ScoreDirection(str, Enum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


class ChallengeConfigError(ValueError):
    """A malformed configuration; the message names the parameter and the field."""

    def __init__(self, parameter: str, field: str, problem: str) -> None:
        super().__init__(f"{parameter}: {field} {problem}")
        self.parameter = parameter
        self.field = field


@dataclass(frozen=True)
class PhaseConfig:
    name: str  # example | provisional | system
    review_type_id: str | None
    score_card_id: str | None
    start_seed: int
    number_of_tests: int

    @property
    def seeds(self) -> tuple[int, ...]:
        """The phase's test case seeds: numberOfTests consecutive seeds from startSeed."""
        return tuple(range(self.start_seed, self.start_seed + self.number_of_tests))

    @property
    def is_final(self) -> bool:
        return self.name == "system"


@dataclass(frozen=True)
class ChallengeConfig:
    challenge_id: str
    scorer_type: str
    ecs_cluster: str
    ecs_task_definition: str
    timeout_seconds: int
    memory_limit_mb: int
    phases: tuple[PhaseConfig, ...]
    submission_api_url: str | None = None
    score_direction: ScoreDirection = ScoreDirection.MAXIMIZE
    relative_scoring_enabled: bool = True
    max_concurrent: int = DEFAULT_MAX_CONCURRENT
    image: str | None = None
    command: tuple[str, ...] | None = None

    def phase(self, name: str) -> PhaseConfig:
        """The phase called `name`; KeyError if the challenge has none."""
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(f"challenge {self.challenge_id} has no phase {name!r}")


def config_parameter(challenge_id: str) -> str:
    return f"/mm-processor/challenges/{challenge_id}/config"


def parse_challenge_config(value: Any, challenge_id: str) -> ChallengeConfig:
    """The configuration stored for `challenge_id`, from the parameter's JSON text or decoded value."""
    parameter = config_parameter(challenge_id)
    try:
        return _parse(_decoded(value), challenge_id)
    except FieldError as error:
        raise ChallengeConfigError(parameter, error.field, error.problem) from None


def _decoded(value: Any) -> dict[str, Any]:
    if isinstance(value, (str, bytes)):
        if len(value) > MAX_CONFIG_CHARS:
            raise FieldError("value", f"is longer than {MAX_CONFIG_CHARS} characters")
        try:
            value = json.loads(value, parse_constant=lambda name: float(name))
        except (ValueError, RecursionError) as error:
            raise FieldError("value", f"is not valid JSON ({str(error)[:80]})") from None
    if not isinstance(value, Mapping):
        raise FieldError("value", f"must be a JSON object, got {fields.type_name(value)}")
    return dict(value)


def _parse(raw: dict[str, Any], challenge_id: str) -> ChallengeConfig:
    for name in ("challengeId", "scorerType", "ecsCluster", "ecsTaskDefinition", "timeout", "memoryLimit"):
        if raw.get(name) is None:
            raise FieldError(name, "is missing")
    stored_id = fields.identifier(raw["challengeId"], "challengeId")
    if stored_id != challenge_id:
        # a copy-pasted parameter would score one challenge with another's scorer
        raise FieldError("challengeId", f"is {stored_id}, not the parameter's challenge {challenge_id}")
    return ChallengeConfig(
        challenge_id=stored_id,
        scorer_type=fields.text(raw["scorerType"], "scorerType", 64),
        ecs_cluster=fields.text(raw["ecsCluster"], "ecsCluster"),
        ecs_task_definition=fields.text(raw["ecsTaskDefinition"], "ecsTaskDefinition"),
        timeout_seconds=fields.integer(raw["timeout"], "timeout", 1, MAX_TIMEOUT_SECONDS),
        memory_limit_mb=fields.integer(raw["memoryLimit"], "memoryLimit", 1, MAX_MEMORY_MB),
        phases=_phases(raw),
        submission_api_url=_optional(raw, "submissionApiUrl", fields.http_url),
        score_direction=_direction(raw.get("scoreDirection")),
        relative_scoring_enabled=_optional(raw, "relativeScoringEnabled", fields.boolean, default=True),
        max_concurrent=_optional(
            raw, "maxConcurrent", fields.integer, 1, MAX_CONCURRENT_LIMIT, default=DEFAULT_MAX_CONCURRENT
        ),
        image=_optional(raw, "image", fields.text, fields.MAX_URL_LENGTH),
        command=_command(raw.get("command")),
    )


def _optional(raw: dict[str, Any], name: str, check: Any, *args: Any, default: Any = None) -> Any:
    value = raw.get(name)
    return default if value is None else check(value, name, *args)


def _direction(value: Any) -> ScoreDirection:
    if value is None:
        return ScoreDirection.MAXIMIZE
    direction = fields.text(value, "scoreDirection", 16).upper()
    if direction not in ScoreDirection.__members__:
        raise FieldError("scoreDirection", f"must be MAXIMIZE or MINIMIZE, got {value[:16]!r}")
    return ScoreDirection(direction)


def _command(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    # a list, as Kubernetes takes it: splitting a string on blanks would break quoted arguments
    if not isinstance(value, list) or not value:
        raise FieldError("command", f"must be a non-empty array of strings, got {fields.type_name(value)}")
    return tuple(_argument(part, f"command[{i}]") for i, part in enumerate(value))


def _argument(value: Any, field: str) -> str:
    """A command argument as given: not stripped, and line breaks and tabs allowed (`python -c` takes a
    script); other control characters and NUL cannot reach a process or be stored."""
    if not isinstance(value, str):
        raise FieldError(field, f"must be a string, got {fields.type_name(value)}")
    if not value or len(value) > MAX_ARGUMENT_CHARS:
        raise FieldError(field, f"must have 1 to {MAX_ARGUMENT_CHARS} characters")
    if not value.replace("\n", "").replace("\t", "").isprintable():
        raise FieldError(field, "holds control characters or invalid code points")
    return value


def _phases(raw: dict[str, Any]) -> tuple[PhaseConfig, ...]:
    value = raw.get("phases")
    if value is None:
        # spec: one provisional phase by default; its ids may come from top-level fields (our choice)
        return (_phase({"name": "provisional", **_default_phase_fields(raw)}, "", require_ids=False),)
    if not isinstance(value, list) or not value:
        raise FieldError("phases", f"must be a non-empty array, got {fields.type_name(value)}")
    phases = tuple(_phase(item, f"phases[{i}]", require_ids=True) for i, item in enumerate(value))
    names = [phase.name for phase in phases]
    if len(set(names)) != len(names):
        raise FieldError("phases", f"names a phase twice: {names}")
    return phases


def _default_phase_fields(raw: dict[str, Any]) -> dict[str, Any]:
    names = ("reviewTypeId", "scoreCardId", "startSeed", "numberOfTests")
    return {name: raw[name] for name in names if raw.get(name) is not None}


def _phase(item: Any, where: str, require_ids: bool) -> PhaseConfig:
    if not isinstance(item, dict):
        raise FieldError(where, f"must be an object, got {fields.type_name(item)}")
    if item.get("name") is None:
        raise FieldError(_at(where, "name"), "is missing")
    name = fields.text(item["name"], _at(where, "name"), 32)
    if name not in PHASE_NAMES:
        raise FieldError(_at(where, "name"), f"must be one of {', '.join(PHASE_NAMES)}, got {name!r}")
    ids = {}
    for key in ("reviewTypeId", "scoreCardId"):
        if item.get(key) is None and require_ids:
            raise FieldError(_at(where, key), "is missing")
        ids[key] = None if item.get(key) is None else fields.identifier(item[key], _at(where, key))
    # null is absent, as for every optional field
    start = DEFAULT_START_SEED if item.get("startSeed") is None else item["startSeed"]
    count = DEFAULT_NUMBER_OF_TESTS if item.get("numberOfTests") is None else item["numberOfTests"]
    return PhaseConfig(
        name=name,
        review_type_id=ids["reviewTypeId"],
        score_card_id=ids["scoreCardId"],
        start_seed=fields.integer(start, _at(where, "startSeed"), 0, fields.INT64_MAX - MAX_TESTS_PER_PHASE),
        number_of_tests=fields.integer(count, _at(where, "numberOfTests"), 1, MAX_TESTS_PER_PHASE),
    )


def _at(where: str, key: str) -> str:
    """A phase field's name in messages: `phases[1].startSeed`, or the top-level key of the default phase."""
    return f"{where}.{key}" if where else key


def is_fresh(fetched_at: float, now: float, ttl_seconds: float = CONFIG_TTL_SECONDS) -> bool:
    """Whether a copy read at `fetched_at` may still be used at `now` (seconds, same clock). A clock
    that went backwards counts as stale: a re-read is cheap, a wrong config is not."""
    return 0 <= now - fetched_at < ttl_seconds
