"""Reading autopilot events (spec 1.1). Pure: no Dagster, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class EventError(ValueError):
    """The event cannot be understood; the message names the field."""


@dataclass(frozen=True)
class PhaseEvent:
    project_id: int
    phase_id: int | None
    phase_type: str
    state: str
    date: str | None

    @property
    def is_review_end(self) -> bool:
        # the legacy processor compared lower-cased strings
        return self.phase_type.lower() == "review" and self.state.lower() == "end"

    @property
    def identity(self) -> str:
        """What makes two deliveries the same event: the project, phase, state and its date."""
        return f"project-{self.project_id}:phase-{self.phase_id}:{self.state.lower()}:{self.date}"


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if value is None:
        raise EventError(f"missing field payload.{name}")
    if not isinstance(value, str):
        raise EventError(f"payload.{name} must be a string, got {type(value).__name__}")
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise EventError(f"payload.{name} must be an integer, got a boolean")
    if isinstance(value, int):
        return value
    # ASCII only: "²".isdigit() is true but int("²") fails
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise EventError(f"payload.{name} must be an integer, got {value!r}")


def parse_phase_event(envelope: dict[str, Any]) -> PhaseEvent:
    """The phase event in a Bus API envelope `{topic, originator, timestamp, mime-type, payload}`."""
    payload = envelope.get("payload")
    if payload is None:
        raise EventError("missing field payload")
    if not isinstance(payload, dict):
        raise EventError(f"payload must be an object, got {type(payload).__name__}")
    phase_type = _text(payload, "phaseTypeName")
    state = _text(payload, "state")
    if "projectId" not in payload or payload["projectId"] is None:
        raise EventError("missing field payload.projectId")
    project_id = _integer(payload["projectId"], "projectId")
    phase_id = None if payload.get("phaseId") is None else _integer(payload["phaseId"], "phaseId")
    date = payload.get("date") or envelope.get("timestamp")
    return PhaseEvent(project_id, phase_id, phase_type, state, str(date) if date is not None else None)
