from __future__ import annotations

import pytest

from mm_platform.marathon.dev.sample_data import review_end_event
from mm_platform.marathon.rules.events import EventError, parse_phase_event


def test_the_readme_example_is_a_review_end() -> None:
    event = parse_phase_event(review_end_event())
    assert event.is_review_end
    assert (event.project_id, event.phase_id, event.date) == (30373282, 1018098, "2024-03-29T01:03:15Z")


@pytest.mark.parametrize(
    ("phase", "state", "expected"),
    [
        ("Review", "END", True),
        ("review", "end", True),
        ("REVIEW", "End", True),
        ("Review", "START", False),
        ("Submission", "END", False),
        ("Appeals", "END", False),
    ],
)
def test_only_review_end_counts(phase: str, state: str, expected: bool) -> None:
    envelope = review_end_event()
    envelope["payload"].update(phaseTypeName=phase, state=state)
    assert parse_phase_event(envelope).is_review_end is expected


def test_identity_is_stable_for_redeliveries_and_differs_between_phases() -> None:
    assert parse_phase_event(review_end_event()).identity == parse_phase_event(review_end_event()).identity
    assert (
        parse_phase_event(review_end_event(phase_id=1)).identity
        != parse_phase_event(review_end_event()).identity
    )


def test_project_id_as_digits_is_accepted() -> None:
    envelope = review_end_event()
    envelope["payload"]["projectId"] = " 30373282 "
    assert parse_phase_event(envelope).project_id == 30373282


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("payload"), "missing field payload"),
        (lambda e: e.update(payload="x"), "payload must be an object, got str"),
        (lambda e: e["payload"].pop("phaseTypeName"), "missing field payload.phaseTypeName"),
        (lambda e: e["payload"].pop("state"), "missing field payload.state"),
        (lambda e: e["payload"].update(state=1), "payload.state must be a string, got int"),
        (lambda e: e["payload"].update(projectId=None), "missing field payload.projectId"),
        (
            lambda e: e["payload"].update(projectId=True),
            "payload.projectId must be an integer, got a boolean",
        ),
        (lambda e: e["payload"].update(projectId=1.5), "payload.projectId must be an integer, got 1.5"),
        (lambda e: e["payload"].update(phaseId="x"), "payload.phaseId must be an integer, got 'x'"),
    ],
)
def test_malformed_events_name_the_field(mutate, message: str) -> None:
    envelope = review_end_event()
    mutate(envelope)
    with pytest.raises(EventError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        parse_phase_event(envelope)
