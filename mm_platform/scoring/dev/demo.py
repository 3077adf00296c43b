"""`mm-platform demo --domain scoring`: 20 submissions over the two sample challenges (one broken, one
crashing) followed from the topic to the leaderboard, the Submission API and the dead letters."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.kafka import KafkaResource
from mm_platform.scoring.dev.sample_data import (
    MAXIMIZE_CHALLENGE,
    MINIMIZE_CHALLENGE,
    submission_event,
    submission_url,
)
from mm_platform.scoring.rules.leaderboard import FAILED, SCORED
from mm_platform.scoring.stores.scores_store import ScoringStore
from mm_platform.scoring.stores.submission_api import SubmissionApi


@dataclass(frozen=True)
class DemoSubmission:
    event: dict
    kind: str  # good | broken | crashing

    @property
    def submission_id(self) -> str:
        return self.event["id"]

    @property
    def challenge_id(self) -> str:
        return self.event["challengeId"]


def demo_submissions(endpoint: str, bucket: str) -> list[DemoSubmission]:
    """Per challenge nine good submissions of eight members (the first member submits twice: the
    later one counts), plus one broken (MAXIMIZE) or crashing (MINIMIZE) submission."""
    run = uuid.uuid4().hex[:6]
    demo: list[DemoSubmission] = []
    for offset, (challenge, bad) in enumerate(
        ((MAXIMIZE_CHALLENGE, "broken"), (MINIMIZE_CHALLENGE, "crashing"))
    ):
        members = [f"demo-{run}-{offset}{m}" for m in range(1, 9)]
        for i, member in enumerate([*members, members[0]]):
            url = submission_url(endpoint, bucket, f"good-{i % 4 + 1}")
            demo.append(DemoSubmission(submission_event(challenge, member, url), "good"))
            time.sleep(0.002)  # distinct `created` times: the resubmission is the later one
        url = submission_url(endpoint, bucket, bad)
        demo.append(DemoSubmission(submission_event(challenge, f"demo-{run}-{offset}9", url), bad))
    return demo


def publish(kafka: KafkaResource, topic: str, demo: list[DemoSubmission]) -> None:
    kafka.produce(topic, [json.dumps(d.event) for d in demo])


def settled(inbox: EventInbox, topic: str, demo: list[DemoSubmission]) -> dict[str, Status]:
    """Inbox status per demo submission id, for those that reached HANDLED or FAILED."""
    wanted = {f"submission:{d.submission_id}": d.submission_id for d in demo}
    done: dict[str, Status] = {}
    for status in (Status.HANDLED, Status.FAILED):
        after = 0
        while page := inbox.select(statuses=[status], topic=topic, after_id=after, limit=1000):
            done.update({wanted[e.dedup_key]: e.status for e in page if e.dedup_key in wanted})
            after = page[-1].id
    return done


def wait_until_settled(inbox: EventInbox, topic: str, demo: list[DemoSubmission], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        done = settled(inbox, topic, demo)
        if len(done) == len(demo) or time.monotonic() > deadline:
            return done
        time.sleep(1)


def verify(
    store: ScoringStore, api: SubmissionApi, token: str, demo: list[DemoSubmission], inbox_status: dict
) -> list[str]:
    """What is off: every good and broken submission SCORED in every phase with its reviews posted, the
    broken one with failed tests, the crashing one FAILED (a dead letter), one leaderboard row per member."""
    problems: list[str] = []
    statuses = {
        (sid, phase): status
        for challenge in {d.challenge_id for d in demo}
        for sid, phase, status in store.phase_statuses(challenge)
    }
    for d in demo:
        mine = {phase: s for (sid, phase), s in statuses.items() if sid == d.submission_id}
        expected = FAILED if d.kind == "crashing" else SCORED
        if not mine or any(s != expected for s in mine.values()):
            problems.append(f"{d.kind} submission {d.submission_id}: phases {mine}, expected all {expected}")
        want_inbox = Status.FAILED if d.kind == "crashing" else Status.HANDLED
        if inbox_status.get(d.submission_id) is not want_inbox:
            problems.append(
                f"{d.kind} submission {d.submission_id}: inbox {inbox_status.get(d.submission_id)}"
            )
        if expected == SCORED:
            reviews = api.reviews_of(d.submission_id, token)
            if len(reviews) != len(mine):
                problems.append(
                    f"submission {d.submission_id}: {len(reviews)} review(s) for {len(mine)} phase(s)"
                )
            if d.kind == "broken" and not any(
                t.get("score", 0) < 0 for r in reviews for t in r.get("metadata", {}).get("testScores", [])
            ):
                problems.append(f"broken submission {d.submission_id}: no failed test in its reviews")
    for challenge in {d.challenge_id for d in demo}:
        rows = store.leaderboard(challenge)
        members = {d.event["memberId"] for d in demo if d.challenge_id == challenge}
        for phase in {r.phase for r in rows}:
            shown = [r.member_id for r in rows if r.phase == phase and r.member_id in members]
            if sorted(shown) != sorted(members):
                problems.append(
                    f"{challenge} {phase}: leaderboard rows for {len(shown)} of {len(members)} members"
                )
    return problems
