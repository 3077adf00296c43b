"""Submission events of both shapes (spec §1): what is scored, what is ignored, what is invalid and why."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_platform.scoring.rules.events import (
    IgnoredEvent,
    SubmissionEvent,
    SubmissionEventError,
    decode_message,
    duplicate_reason,
    parse_submission_event,
    require_known_challenge,
    split_duplicates,
)

SUBMISSION_ID = "a12bc280-65ab-4f3b-9d7c-7f2a4a1e1b0d"
CHALLENGE_ID = "30054692"


def seed_event(**changes: Any) -> dict[str, Any]:
    event = {
        "id": SUBMISSION_ID,
        "challengeId": CHALLENGE_ID,
        "url": "https://s3.amazonaws.com/submissions/a12bc280.zip",
        "memberId": "40029484",
        "created": "2024-03-29T01:03:15.000Z",
    }
    event.update(changes)
    return event


def bus_event(**payload_changes: Any) -> dict[str, Any]:
    payload = {
        "resource": "submission",
        "id": SUBMISSION_ID,
        "type": "Contest Submission",
        "memberId": 40029484,
        "challengeId": CHALLENGE_ID,
        "created": "2024-03-29T01:03:15.000Z",
        "updated": "2024-03-29T01:03:16.000Z",
        "submissionPhaseId": "c6b5b0ba-2c62-4d4c-9cbf-5d47d1e6e3a1",
        "fileType": "zip",
        "submittedDate": "2024-03-29T01:03:15.000Z",
        "url": "https://s3.amazonaws.com/submissions/a12bc280.zip",
        "isFileSubmission": True,
        "legacyChallengeId": 30054692,
    }
    payload.update(payload_changes)
    return {
        "topic": "submission.notification.create",
        "originator": "submission-api",
        "timestamp": "2024-03-29T01:03:16.000Z",
        "mime-type": "application/json",
        "payload": payload,
    }


def invalid_reason(message: Any) -> str:
    with pytest.raises(SubmissionEventError) as caught:
        parse_submission_event(message)
    return str(caught.value)


def test_seed_shape_gives_the_submission() -> None:
    event = parse_submission_event(seed_event())
    assert event == SubmissionEvent(
        submission_id=SUBMISSION_ID,
        challenge_id=CHALLENGE_ID,
        member_id="40029484",
        url="https://s3.amazonaws.com/submissions/a12bc280.zip",
        created=datetime(2024, 3, 29, 1, 3, 15, tzinfo=timezone.utc),
        shape="seed",
    )


def test_bus_envelope_gives_the_submission_and_its_extra_fields() -> None:
    event = parse_submission_event(bus_event())
    assert isinstance(event, SubmissionEvent)
    assert (event.shape, event.resource, event.member_id, event.challenge_id) == (
        "bus",
        "submission",
        "40029484",
        CHALLENGE_ID,
    )
    assert event.submission_type == "Contest Submission"
    assert event.file_type == "zip"
    assert event.is_file_submission is True
    assert event.legacy_challenge_id == 30054692
    assert event.updated == datetime(2024, 3, 29, 1, 3, 16, tzinfo=timezone.utc)


def test_both_shapes_of_one_submission_share_the_identity() -> None:
    seed, bus = parse_submission_event(seed_event()), parse_submission_event(bus_event())
    assert isinstance(seed, SubmissionEvent) and isinstance(bus, SubmissionEvent)
    assert seed.identity == bus.identity == f"submission:{SUBMISSION_ID}"


def test_optional_bus_fields_may_be_absent() -> None:
    message = bus_event()
    for name in ("type", "updated", "submissionPhaseId", "fileType", "submittedDate", "legacyChallengeId"):
        del message["payload"][name]
    event = parse_submission_event(message)
    assert isinstance(event, SubmissionEvent)
    assert event.legacy_challenge_id is None and event.submission_type is None


@pytest.mark.parametrize("resource", ["review", "reviewSummation"])
def test_reviews_and_summations_are_ignored_not_invalid(resource: str) -> None:
    message = bus_event(resource=resource)
    del message["payload"]["url"]  # a review has none: it must be ignored before fields are checked
    outcome = parse_submission_event(message)
    assert isinstance(outcome, IgnoredEvent)
    assert outcome.resource == resource
    assert resource in outcome.reason


def test_another_notification_topic_is_ignored() -> None:
    message = bus_event()
    message["topic"] = "submission.notification.update"
    outcome = parse_submission_event(message)
    assert isinstance(outcome, IgnoredEvent)
    assert "submission.notification.update" in outcome.reason


@pytest.mark.parametrize(
    ("created", "expected"),
    [
        ("2024-03-29T01:03:15Z", datetime(2024, 3, 29, 1, 3, 15, tzinfo=timezone.utc)),
        ("2024-03-29T03:03:15+02:00", datetime(2024, 3, 29, 1, 3, 15, tzinfo=timezone.utc)),
        ("2024-03-29T01:03:15", datetime(2024, 3, 29, 1, 3, 15, tzinfo=timezone.utc)),  # no offset: UTC
    ],
)
def test_created_is_read_as_utc(created: str, expected: datetime) -> None:
    event = parse_submission_event(seed_event(created=created))
    assert isinstance(event, SubmissionEvent) and event.created == expected


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([seed_event()], "message must be a JSON object, got an array"),
        ("hello", "message must be a JSON object, got a string"),
        (None, "message must be a JSON object, got null"),
        ({}, "missing fields id, challengeId, url, memberId, created"),
        (seed_event(url=None), "missing field url"),
        (seed_event(id=""), "id is empty"),
        (seed_event(memberId="   "), "memberId is empty"),
        (seed_event(url="ftp://host/a.zip"), "url must be an http(s) URL, got scheme 'ftp'"),
        (seed_event(url="file:///etc/passwd"), "url must be an http(s) URL"),
        (seed_event(url="not a url"), "url must be a percent-encoded URL"),
        (seed_event(url="https://"), "url has no host"),
        (seed_event(url="http://host:99999/a.zip"), "url is not a valid URL"),
        (seed_event(created="yesterday"), "created is not an ISO-8601 date-time"),
        (seed_event(created=1711674195000), "created must be a string, got a number"),
        (seed_event(challengeId=["1"]), "challengeId must be a string or an integer, got an array"),
        (seed_event(challengeId="30054692/../x"), "challengeId may only hold letters, digits"),
        (seed_event(memberId=True), "memberId must be a string or an integer, got a boolean"),
        (seed_event(memberId=1.5), "memberId must be an integer, got a number"),
        (seed_event(memberId=-3), "memberId must be between 0 and"),
        (seed_event(memberId=10**400), "memberId must be between 0 and"),
        (seed_event(memberId=float("nan")), "memberId must be a finite number, got nan"),
        (seed_event(memberId=float("inf")), "memberId must be a finite number, got inf"),
        (seed_event(id="x" * 65), "id is longer than 64 characters"),
        (bus_event(type="Contest\x00Submission"), "payload.type holds control characters"),
        (bus_event(fileType="\ud800"), "payload.fileType holds control characters or invalid code points"),
        (seed_event(url="https://h/" + "a" * 3000), "url is longer than 2048 characters"),
        ({"payload": "x"}, "payload must be an object, got a string"),
        ({"payload": {}}, "missing field payload.resource"),
        (bus_event(resource="challenge"), "payload.resource 'challenge' is not a submission"),
        (bus_event(url="ftp://x/y"), "payload.url must be an http(s) URL"),
        (bus_event(challengeId=None), "missing field payload.challengeId"),
        (bus_event(isFileSubmission="yes"), "payload.isFileSubmission must be true or false"),
        (bus_event(legacyChallengeId="abc"), "payload.legacyChallengeId must be an integer"),
        ({**bus_event(), "topic": 7}, "topic must be a string"),
    ],
)
def test_invalid_events_carry_a_clear_reason(message: Any, reason: str) -> None:
    assert reason in invalid_reason(message)


def test_unknown_challenge_is_invalid_with_its_id() -> None:
    event = parse_submission_event(seed_event())
    assert isinstance(event, SubmissionEvent)
    assert require_known_challenge(event, {CHALLENGE_ID}) is event
    with pytest.raises(SubmissionEventError, match="unknown challenge 30054692"):
        require_known_challenge(event, {"other"})


def test_second_delivery_of_a_submission_is_a_duplicate() -> None:
    first = parse_submission_event(seed_event())
    again = parse_submission_event(bus_event())
    other = parse_submission_event(seed_event(id="b2"))
    assert all(isinstance(e, SubmissionEvent) for e in (first, again, other))
    kept, duplicates = split_duplicates([first, again, other])  # type: ignore[list-item]
    assert kept == [first, other] and duplicates == [again]
    kept, duplicates = split_duplicates([other], seen={other.identity})  # type: ignore[union-attr]
    assert kept == [] and duplicates == [other]
    assert duplicate_reason(again) == f"duplicate: submission {SUBMISSION_ID} was already received"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "bad JSON"),
        (b'{"id": NaN}', "bad JSON: NaN is not a JSON number"),
        (b'{"id": Infinity}', "bad JSON: Infinity is not a JSON number"),
        (b"\xff\xfe\x00", "bad JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "bad JSON"),
        (b" " * 1_000_001, "larger than"),
    ],
)
def test_bad_json_is_invalid(raw: bytes, reason: str) -> None:
    with pytest.raises(SubmissionEventError, match=reason):
        decode_message(raw)


def test_decoded_message_parses() -> None:
    assert isinstance(parse_submission_event(decode_message(json.dumps(bus_event()))), SubmissionEvent)


# --- property: any JSON value in, an event / an ignored outcome / a SubmissionEventError out ---
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 5, max_value=10**500),
    st.floats(),  # NaN and infinities too
    st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=30),
    st.sampled_from(["https://h/a.zip", "2024-03-29T01:03:15Z", "0001-01-01T00:00:00+01:00", "review"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
)
_field_values = st.dictionaries(
    st.sampled_from(
        ["id", "challengeId", "url", "memberId", "created", "resource", "isFileSubmission", "type"]
    ),
    _json,
)


@st.composite
def _messages(draw: st.DrawFn) -> Any:
    """Arbitrary JSON, and near-valid events of both shapes with arbitrary values in their fields."""
    kind = draw(st.sampled_from(["any", "seed", "bus"]))
    if kind == "any":
        return draw(_json)
    if kind == "seed":
        return {**seed_event(), **draw(_field_values)}
    message = bus_event()
    message["payload"].update(draw(_field_values))
    if draw(st.booleans()):
        message["topic"] = draw(_json)
    return message


@settings(max_examples=200, deadline=None)
@given(_messages())
def test_any_json_gives_an_outcome_never_a_crash(message: Any) -> None:
    try:
        outcome = parse_submission_event(message)
    except SubmissionEventError as error:
        # the reason is stored in the inbox: short, UTF-8 encodable, no NUL
        assert 0 < len(str(error)) < 500
        assert "\x00" not in str(error)
        str(error).encode("utf-8")
    else:
        assert isinstance(outcome, (SubmissionEvent, IgnoredEvent))


def test_numeric_ids_read_as_the_same_text_as_string_ids() -> None:
    numeric = parse_submission_event(seed_event(challengeId=30054692, memberId=40029484))
    text = parse_submission_event(seed_event(challengeId="30054692", memberId=" 40029484 "))
    assert isinstance(numeric, SubmissionEvent) and isinstance(text, SubmissionEvent)
    assert (
        (numeric.challenge_id, numeric.member_id)
        == (text.challenge_id, text.member_id)
        == (
            "30054692",
            "40029484",
        )
    )


def test_an_envelope_without_topic_is_read_by_its_resource() -> None:
    message = bus_event()
    del message["topic"]
    assert isinstance(parse_submission_event(message), SubmissionEvent)
