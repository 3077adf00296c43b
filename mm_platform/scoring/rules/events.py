"""Reading submission events (spec §1), both input shapes. Pure: no Dagster, no I/O.

`parse_submission_event` turns any JSON-decoded value into a SubmissionEvent, an IgnoredEvent (a
review or review summation: the platform's own output coming back) or a SubmissionEventError with a
short reason for the inbox; never another exception.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mm_platform.scoring.rules import fields
from mm_platform.scoring.rules.fields import FieldError

CREATE_TOPIC = "submission.notification.create"
SUBMISSION_RESOURCE = "submission"
IGNORED_RESOURCES = ("review", "reviewSummation")
SEED_FIELDS = ("id", "challengeId", "url", "memberId", "created")
# a submission event is a few hundred bytes; anything near this is not one
MAX_MESSAGE_BYTES = 1_000_000

Shape = Literal["seed", "bus"]


class SubmissionEventError(ValueError):
    """The message is not a usable submission event (inbox INVALID); the message is the reason."""


@dataclass(frozen=True)
class SubmissionEvent:
    submission_id: str
    challenge_id: str
    member_id: str
    url: str
    created: datetime  # aware, UTC
    shape: Shape
    resource: str = SUBMISSION_RESOURCE
    # the bus envelope's extra payload fields, None in the seed shape or when absent
    submission_type: str | None = None
    submission_phase_id: str | None = None
    file_type: str | None = None
    is_file_submission: bool | None = None
    legacy_challenge_id: int | None = None
    submitted_date: datetime | None = None
    updated: datetime | None = None

    @property
    def identity(self) -> str:
        """What makes two deliveries the same submission (spec: the submission id), whatever the shape."""
        return f"submission:{self.submission_id}"


@dataclass(frozen=True)
class IgnoredEvent:
    """A well-formed message that is not ours to score (inbox IGNORED with this reason)."""

    reason: str
    resource: str | None = None


def decode_message(raw: bytes | str) -> Any:
    """The JSON value of a Kafka message value; bad JSON (NaN and Infinity included, which are not
    JSON) is a SubmissionEventError."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise SubmissionEventError(f"message is larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except SubmissionEventError:
        raise
    except RecursionError:
        raise SubmissionEventError("bad JSON: nested too deeply") from None
    except (ValueError, TypeError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SubmissionEventError(f"bad JSON: {str(error)[:120]}") from None


def _refuse_constant(name: str) -> Any:
    raise SubmissionEventError(f"bad JSON: {name} is not a JSON number")


def parse_submission_event(message: Any) -> SubmissionEvent | IgnoredEvent:
    """The submission in a seed-shape message or a Topcoder bus envelope (told apart by `payload`)."""
    if not isinstance(message, dict):
        raise SubmissionEventError(f"message must be a JSON object, got {fields.type_name(message)}")
    try:
        if "payload" in message:
            return _parse_envelope(message)
        return _parse_seed(message)
    except FieldError as error:
        raise SubmissionEventError(str(error)) from None


def _parse_seed(message: dict[str, Any]) -> SubmissionEvent:
    _require(message, SEED_FIELDS, prefix="")
    return SubmissionEvent(**_core_fields(message, prefix=""), shape="seed")


def _parse_envelope(envelope: dict[str, Any]) -> SubmissionEvent | IgnoredEvent:
    topic = envelope.get("topic")
    if topic is not None and fields.text(topic, "topic") != CREATE_TOPIC:
        # another notification on a shared topic (e.g. an update) must not start a second scoring
        return IgnoredEvent(f"topic {topic.strip()[:80]!r} is not {CREATE_TOPIC}")
    payload = envelope["payload"]
    if not isinstance(payload, dict):
        raise SubmissionEventError(f"payload must be an object, got {fields.type_name(payload)}")
    if "resource" not in payload:
        raise SubmissionEventError("missing field payload.resource")
    resource = fields.text(payload["resource"], "payload.resource", 64)
    if resource in IGNORED_RESOURCES:
        return IgnoredEvent(f"{resource} resource: the platform's own output is never scored", resource)
    if resource != SUBMISSION_RESOURCE:
        # unknown resources are INVALID, not IGNORED, so that a producer change gets noticed
        raise SubmissionEventError(f"payload.resource {resource[:64]!r} is not a submission")
    _require(payload, SEED_FIELDS, prefix="payload.")
    return SubmissionEvent(**_core_fields(payload, prefix="payload."), shape="bus", **_bus_extras(payload))


def _require(message: dict[str, Any], names: Iterable[str], prefix: str) -> None:
    missing = [f"{prefix}{name}" for name in names if message.get(name) is None]
    if missing:
        raise SubmissionEventError(f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def _core_fields(source: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        "submission_id": fields.identifier(source["id"], f"{prefix}id"),
        "challenge_id": fields.identifier(source["challengeId"], f"{prefix}challengeId"),
        "member_id": fields.identifier(source["memberId"], f"{prefix}memberId"),
        "url": fields.http_url(source["url"], f"{prefix}url"),
        "created": fields.timestamp(source["created"], f"{prefix}created"),
    }


def _bus_extras(payload: dict[str, Any]) -> dict[str, Any]:
    """The optional payload fields: checked when present (a wrong type is INVALID), None when absent;
    scoring needs only the seed fields, so their absence is no reason to refuse a submission."""

    def optional(name: str, check: Any, *args: Any) -> Any:
        value = payload.get(name)
        return None if value is None else check(value, f"payload.{name}", *args)

    return {
        "submission_type": optional("type", fields.text, 64),
        "submission_phase_id": optional("submissionPhaseId", fields.identifier),
        "file_type": optional("fileType", fields.text, 32),
        "is_file_submission": optional("isFileSubmission", fields.boolean),
        "legacy_challenge_id": optional("legacyChallengeId", fields.integer),
        "submitted_date": optional("submittedDate", fields.timestamp),
        "updated": optional("updated", fields.timestamp),
    }


def require_known_challenge(event: SubmissionEvent, configured: Collection[str]) -> SubmissionEvent:
    """The event, if its challenge has a configuration; otherwise INVALID (spec: not retried forever,
    `mm-platform replay` re-reads it once the config exists)."""
    if event.challenge_id not in configured:
        raise SubmissionEventError(f"unknown challenge {event.challenge_id}: no scoring configuration")
    return event


def duplicate_reason(event: SubmissionEvent) -> str:
    """The inbox reason of a second delivery (spec §1: IGNORED as a duplicate)."""
    return f"duplicate: submission {event.submission_id} was already received"


def split_duplicates(
    events: Iterable[SubmissionEvent], seen: Collection[str] = ()
) -> tuple[list[SubmissionEvent], list[SubmissionEvent]]:
    """(first deliveries, duplicates) in arrival order: a submission id already in `seen` (identities
    recorded earlier) or earlier in the batch is a duplicate (inbox IGNORED)."""
    firsts: list[SubmissionEvent] = []
    duplicates: list[SubmissionEvent] = []
    batch: set[str] = set()
    for event in events:
        if event.identity in seen or event.identity in batch:
            duplicates.append(event)
        else:
            batch.add(event.identity)
            firsts.append(event)
    return firsts, duplicates
