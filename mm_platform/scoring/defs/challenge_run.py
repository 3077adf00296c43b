"""One challenge's scoring work inside a `submission_scores` step: run the scorer for every open
(submission, phase), record the outcome, tell the Submission API, settle dead letters in the inbox.

Every effect is recorded before the next one starts, so a step retried (RetryPolicy) or a run restarted
after a crash continues from the store: a phase scored is not scored again, a review acknowledged is not
posted again, and one posted but not yet recorded is found at the API first.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from mm_platform.core.inbox import EventInbox, Status
from mm_platform.core.services import ServiceError
from mm_platform.scoring.rules.config import ChallengeConfig, PhaseConfig
from mm_platform.scoring.rules.leaderboard import FAILED, SCORED
from mm_platform.scoring.rules.scores import (
    ScoreRefused,
    failed_status_payload,
    review_payload,
    review_summation_payload,
    validate_result,
)
from mm_platform.scoring.stores.launcher import ScorerLauncher, ScorerRequest
from mm_platform.scoring.stores.scores_store import PENDING, PhaseWork, ScoringStore
from mm_platform.scoring.stores.submission_api import SubmissionApi


@dataclass
class RunTally:
    scored: int = 0
    failed_attempts: int = 0
    dead_letters: list[tuple[str, str, str]] = field(default_factory=list)  # (submission, phase, reason)
    api_errors: list[str] = field(default_factory=list)
    scorer_seconds: list[float] = field(default_factory=list)
    still_pending: int = 0
    # scorer threads report here together
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)

    def append(self, name: str, value: Any) -> None:
        with self.lock:
            getattr(self, name).append(value)

    @property
    def median_scorer_seconds(self) -> float:
        return statistics.median(self.scorer_seconds) if self.scorer_seconds else 0.0


@dataclass
class ChallengeRun:
    config: ChallengeConfig
    store: ScoringStore
    inbox: EventInbox
    api: SubmissionApi
    # the API's bearer token (SSM SecureString), passed per call, never logged or shown
    token: str | None = field(repr=False)
    launcher: ScorerLauncher
    context: Any  # the asset's execution context: Pipes sessions report through it
    run_id: str
    reviewer_id: str
    max_attempts: int
    max_scorers: int  # the platform's cap on a run's scorers, whatever maxConcurrent says
    log: Callable[[str], None]
    tally: RunTally = field(default_factory=RunTally)

    def work_through(self, work: Sequence[PhaseWork]) -> RunTally:
        """Score and post every open item, `maxConcurrent` scorers at a time (at most `max_scorers`)."""
        workers = max(1, min(self.config.max_concurrent, self.max_scorers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scorer") as pool:
            list(pool.map(self._one, work))
        return self.tally

    def settle_carried_over(self, work: Sequence[PhaseWork]) -> int:
        """Submissions of an earlier run that failed (its events FAILED by the run-failure sensor)
        and that this run completed: their events become HANDLED. Returns how many."""
        carried = {w.submission.submission_id for w in work}
        done = self.store.fully_scored(carried)
        ids = [inbox_id for inbox_id in done.values() if inbox_id is not None]
        return self.inbox.transition(
            ids, Status.HANDLED, "completed by a later run", run_id=self.run_id, only_from=[Status.FAILED]
        )

    def _one(self, item: PhaseWork) -> None:
        phase = self.config.phase(item.phase)
        if item.status == PENDING:
            item = self._score(item, phase)
        try:
            self._acknowledge(item, phase)
        except ServiceError as error:
            # the score stays recorded; the step is retried for the API alone
            self.tally.append("api_errors", f"{item.submission.submission_id}/{item.phase}: {error}")

    def _score(self, item: PhaseWork, phase: PhaseConfig) -> PhaseWork:
        sid = item.submission.submission_id
        request = ScorerRequest(self.config, phase, sid, item.submission.url)
        outcome = self.launcher.score(self.context, request)
        if outcome.ok:
            try:
                result = validate_result(outcome.reported, phase.number_of_tests)
            except ScoreRefused as refused:
                # the same scorer would report the same value again: no retry
                return self._fail(item, str(refused), outcome.reference, final=True)
            self.store.record_scored(sid, phase.name, result, outcome.reference, outcome.seconds, self.run_id)
            self.tally.add(scored=1)
            self.tally.append("scorer_seconds", outcome.seconds)
            self.log(f"{sid} {phase.name}: score {result.score} ({result.failed_tests} failed tests)")
            return _with(item, status=SCORED, score=result.score, test_scores=_reported(result))
        reason = outcome.failure or "scorer reported no score"
        return self._fail(item, reason, outcome.reference, final=item.attempts + 1 >= self.max_attempts)

    def _fail(self, item: PhaseWork, reason: str, ref: str, final: bool) -> PhaseWork:
        sid = item.submission.submission_id
        attempts = self.store.record_failed_attempt(sid, item.phase, reason, ref, self.run_id, final)
        self.tally.add(failed_attempts=1)
        if not final:
            self.tally.add(still_pending=1)
            self.log(f"{sid} {item.phase}: attempt {attempts} of {self.max_attempts} failed: {reason}")
            return _with(item, attempts=attempts, reason=reason)
        self.tally.append("dead_letters", (sid, item.phase, reason))
        self.log(f"{sid} {item.phase}: FAILED after {attempts} attempt(s): {reason}")
        return _with(item, status=FAILED, attempts=attempts, reason=reason)

    def _dead_letter(self, item: PhaseWork) -> None:
        """The submission's inbox event FAILED with the phase's reason, settled by this run (so the
        run's success leaves it FAILED). Repeated until the API has been told: idempotent."""
        if item.submission.inbox_id is not None:
            self.inbox.transition(
                [item.submission.inbox_id],
                Status.FAILED,
                f"{item.phase}: {item.reason}",
                run_id=self.run_id,
                only_from=[Status.NEW, Status.RETRY, Status.FAILED, Status.HANDLED],
            )

    def _acknowledge(self, item: PhaseWork, phase: PhaseConfig) -> None:
        """Post what the API has not acknowledged, asking it first whether a crash lost our record."""
        sid, api, token = item.submission.submission_id, self.api, self.token
        if item.status == SCORED:
            result = validate_result({"score": item.score, "testScores": item.test_scores or []})
            if item.review_id is None:
                review = review_payload(sid, phase, result, self.reviewer_id)
                found = api.find_review(sid, phase.review_type_id, phase.name, token)
                posted = found or api.post_review(review, token)
                self.store.record_posted(sid, phase.name, review_id=str(posted.get("id", "")))
            if item.summation_id is None:
                summation = review_summation_payload(sid, phase, result.score)
                found = api.find_review_summation(sid, phase.name, token)
                posted = found or api.post_review_summation(summation, token)
                self.store.record_posted(sid, phase.name, summation_id=str(posted.get("id", "")))
        elif item.status == FAILED and not item.failed_posted:
            self._dead_letter(item)
            api.mark_failed(sid, failed_status_payload(f"{phase.name}: {item.reason}"), token)
            self.store.record_posted(sid, phase.name, failed_posted=True)


def _reported(result: Any) -> list[dict[str, Any]]:
    return [test.as_reported() for test in result.test_scores]


def _with(item: PhaseWork, **changes: Any) -> PhaseWork:
    return replace(item, **changes)
