"""Who attended a round (spec 9.4). Pure: no Dagster, no I/O.

A member attended when they have a long_comp_result row for the round and their latest submission
(by creation time) has a final score. Rows are never inserted here (LPM creates them with the final
score) and an attended flag is never taken back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Submission:
    submission_id: str
    member_id: int
    created: dt.datetime
    final_score: Decimal | float | None


@dataclass(frozen=True)
class AttendanceDecision:
    to_mark: list[int] = field(default_factory=list)  # attended 'N' -> 'Y'
    already_attended: list[int] = field(default_factory=list)
    final_submitters: list[int] = field(default_factory=list)
    without_result_row: list[int] = field(default_factory=list)  # final submission but no LCR row
    latest_without_final_score: list[int] = field(default_factory=list)


def latest_submissions(submissions: Iterable[Submission]) -> dict[int, Submission]:
    """Each member's latest submission; equal creation times fall back to the submission id so the
    choice does not depend on row order."""
    latest: dict[int, Submission] = {}
    for s in submissions:
        current = latest.get(s.member_id)
        if current is None or (s.created, s.submission_id) > (current.created, current.submission_id):
            latest[s.member_id] = s
    return latest


def decide_attendance(
    attended_by_coder: Mapping[int, str], submissions: Iterable[Submission]
) -> AttendanceDecision:
    """`attended_by_coder` is the round's long_comp_result: coder_id -> attended ('Y'/'N')."""
    decision = AttendanceDecision()
    for member_id, latest in sorted(latest_submissions(submissions).items()):
        if latest.final_score is None:
            decision.latest_without_final_score.append(member_id)
            continue
        decision.final_submitters.append(member_id)
        flag = attended_by_coder.get(member_id)
        if flag is None:
            decision.without_result_row.append(member_id)
        elif flag.strip().upper() == "Y":
            decision.already_attended.append(member_id)
        else:
            decision.to_mark.append(member_id)
    return decision
