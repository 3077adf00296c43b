"""Queries on the marathon OLTP tables, shared by the sensor (read-only) and the assets."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select, update

from mm_platform.marathon.rules.attendance import Submission
from mm_platform.marathon.stores.schema import (
    ROUND_MAPPING_INFO_TYPE_ID,
    contest,
    long_comp_result,
    project,
    project_info,
    round_,
    submission,
)


def project_category(conn: Connection, project_id: int) -> int | None:
    """The legacy project's category, or None when the project is not in the OLTP database."""
    return conn.execute(
        select(project.c.project_category_id).where(project.c.project_id == project_id)
    ).scalar_one_or_none()


def round_for_project(conn: Connection, project_id: int) -> int | None:
    """The round of a legacy project (project_info type 56), if the mapping and the round with its
    contest exist (spec 1.2); None otherwise."""
    value = conn.execute(
        select(project_info.c.value).where(
            project_info.c.project_id == project_id,
            project_info.c.project_info_type_id == ROUND_MAPPING_INFO_TYPE_ID,
        )
    ).scalar_one_or_none()
    if value is None or not str(value).strip().isdigit():
        return None
    round_id = int(str(value).strip())
    found = conn.execute(
        select(round_.c.round_id)
        .join(contest, contest.c.contest_id == round_.c.contest_id)
        .where(round_.c.round_id == round_id)
    ).scalar_one_or_none()
    return found


def projects_of_round(conn: Connection, round_id: int) -> list[int]:
    rows = conn.execute(
        select(project_info.c.project_id).where(
            project_info.c.project_info_type_id == ROUND_MAPPING_INFO_TYPE_ID,
            project_info.c.value == str(round_id),
        )
    )
    return sorted(r[0] for r in rows)


def round_exists(conn: Connection, round_id: int) -> bool:
    return conn.execute(select(round_.c.round_id).where(round_.c.round_id == round_id)).first() is not None


def attended_flags(conn: Connection, round_id: int) -> dict[int, str]:
    rows = conn.execute(
        select(long_comp_result.c.coder_id, long_comp_result.c.attended).where(
            long_comp_result.c.round_id == round_id
        )
    )
    return {coder_id: attended for coder_id, attended in rows}


def submissions_of_projects(conn: Connection, project_ids: Iterable[int]) -> list[Submission]:
    rows = conn.execute(
        select(
            submission.c.submission_id, submission.c.member_id, submission.c.created, submission.c.final_score
        ).where(submission.c.project_id.in_(list(project_ids)))
    )
    return [Submission(r.submission_id, r.member_id, r.created, r.final_score) for r in rows]


def mark_attended(conn: Connection, round_id: int, coder_ids: list[int]) -> int:
    changed = 0
    for start in range(0, len(coder_ids), 500):
        changed += conn.execute(
            update(long_comp_result)
            .where(long_comp_result.c.round_id == round_id)
            .where(long_comp_result.c.coder_id.in_(coder_ids[start : start + 500]))
            .where(long_comp_result.c.attended == "N")
            .values(attended="Y")
        ).rowcount
    return changed
