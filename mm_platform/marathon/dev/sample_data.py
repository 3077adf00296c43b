"""A realistic sample marathon round for the embedded stack and the tests.

Round 990101 (contest 30001) is legacy project 30373282, the project of the review-END example in
the member-profile-processor README. 40 coders registered; most submitted several times; some
latest submissions have no final score yet; two final submitters have no long_comp_result row.
Project 30373300 is a development challenge (not a marathon) and project 30373301 is a marathon
whose round mapping does not exist yet.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import Connection, insert, select, update

from mm_platform.core.sql import engine_for
from mm_platform.marathon.stores.schema import (
    MARATHON_PROJECT_CATEGORY_ID,
    MARATHON_RATING_TYPE_ID,
    ROUND_MAPPING_INFO_TYPE_ID,
    algo_rating,
    coder,
    contest,
    create_oltp_schema,
    current_school,
    language,
    long_comp_result,
    long_component_state,
    long_submission,
    project,
    project_info,
    round_,
    round_registration,
    school,
    submission,
)

SAMPLE_ROUND_ID = 990101
SAMPLE_PROJECT_ID = 30373282
NON_MARATHON_PROJECT_ID = 30373300
UNMAPPED_MARATHON_PROJECT_ID = 30373301
SAMPLE_CODERS = 40
SAMPLE_SCHOOLS = {1001: "Warsaw University", 1002: "MIT", 1003: "IIT Bombay"}
SAMPLE_LANGUAGES = {1: "Java", 3: "C++", 4: "C#", 6: "Python"}
US_STATES = ("CA", "NY", "TX", "MA", "WA")


def review_end_event(project_id: int = SAMPLE_PROJECT_ID, phase_id: int = 1018098) -> dict:
    """The review-END example of the member-profile-processor README."""
    return {
        "topic": "notifications.autopilot.events",
        "originator": "Ghostar",
        "timestamp": "2024-03-29T01:03:15Z",
        "mime-type": "application/json",
        "payload": {
            "date": "2024-03-29T01:03:15Z",
            "projectId": project_id,
            "phaseId": phase_id,
            "phaseTypeName": "Review",
            "state": "END",
            "operator": "151743",
        },
    }


def insert_round(
    conn: Connection,
    *,
    round_id: int,
    contest_id: int,
    project_id: int,
    start: dt.datetime,
    coders: int,
    seed: int,
    coder_id_base: int = 20_000_000,
) -> dict[str, list[int]]:
    """A marathon round with its project mapping, registrants, submissions and results.
    Returns the coder ids by what the attendance rule should decide for them."""
    rng = random.Random(seed)
    # schools, states, languages and submit times come from a generator of their own, so the
    # outcomes of `rng` (scores, attendance) stay those of the seeds other tests rely on
    extras = random.Random(f"{seed}/extras")
    _insert_reference_rows(conn)
    conn.execute(
        insert(contest).values(
            contest_id=contest_id,
            name=f"Marathon Match {contest_id}",
            start_date=start,
            end_date=start + dt.timedelta(days=7),
        )
    )
    conn.execute(
        insert(round_).values(
            round_id=round_id,
            contest_id=contest_id,
            name=f"MM round {round_id}",
            short_name=f"MM{round_id}",
            round_type_id=13,
        )
    )
    conn.execute(
        insert(project).values(project_id=project_id, project_category_id=MARATHON_PROJECT_CATEGORY_ID)
    )
    conn.execute(
        insert(project_info).values(
            project_id=project_id, project_info_type_id=ROUND_MAPPING_INFO_TYPE_ID, value=str(round_id)
        )
    )
    expected: dict[str, list[int]] = {
        "attend": [],
        "no_final_score": [],
        "no_result_row": [],
        "no_submission": [],
    }
    existing = {r[0] for r in conn.execute(select(coder.c.coder_id))}
    for i in range(coders):
        coder_id = coder_id_base + i
        if coder_id not in existing:
            country = rng.choice(["USA", "IND", "POL", "CHN", "BRA"])
            conn.execute(
                insert(coder).values(
                    coder_id=coder_id,
                    handle=f"mm_coder_{i:03d}",
                    status="A",
                    country_code=country,
                    state_code=extras.choice(US_STATES) if country == "USA" else None,
                    member_since=start - dt.timedelta(days=rng.randint(30, 3000)),
                )
            )
            if extras.random() < 0.6:
                conn.execute(
                    insert(current_school).values(
                        coder_id=coder_id, school_id=extras.choice(list(SAMPLE_SCHOOLS))
                    )
                )
            if rng.random() < 0.65:
                conn.execute(
                    insert(algo_rating).values(
                        coder_id=coder_id,
                        algo_rating_type_id=MARATHON_RATING_TYPE_ID,
                        rating=rng.randint(800, 2600),
                        vol=rng.randint(150, 520),
                        num_ratings=rng.randint(1, 40),
                        modify_date=start - dt.timedelta(days=40),
                    )
                )
        conn.execute(
            insert(round_registration).values(
                round_id=round_id, coder_id=coder_id, timestamp=start + dt.timedelta(hours=rng.randint(0, 48))
            )
        )
        kind = "attend"
        if i % 10 == 7:
            kind = "no_final_score"
        elif i in (coders - 1, coders - 2):
            kind = "no_result_row"
        elif i % 13 == 5:
            kind = "no_submission"
        expected[kind].append(coder_id)
        if kind == "no_submission":
            continue
        submissions = rng.randint(1, 4)
        state_id = round_id * 1000 + i
        final = Decimal(rng.randint(0, 1_000_000)) / 100
        language_id = extras.choice(list(SAMPLE_LANGUAGES))  # one language per coder in a round
        conn.execute(
            insert(long_component_state).values(
                long_component_state_id=state_id,
                round_id=round_id,
                coder_id=coder_id,
                component_id=round_id,
                points=final,
                status_id=150,
                submission_number=submissions,
            )
        )
        for n in range(1, submissions + 1):
            created = start + dt.timedelta(days=1, hours=n * 20 + rng.randint(0, 10))
            submitted = created + dt.timedelta(milliseconds=extras.randint(0, 59_999))
            latest = n == submissions
            has_final = not (latest and kind == "no_final_score")
            conn.execute(
                insert(long_submission).values(
                    long_component_state_id=state_id,
                    submission_number=n,
                    example=0,
                    submission_text="",
                    submit_time=int(submitted.replace(tzinfo=dt.UTC).timestamp() * 1000),  # epoch ms
                    submission_points=final,
                    language_id=language_id,
                )
            )
            conn.execute(
                insert(submission).values(
                    submission_id=f"{round_id}-{coder_id}-{n}",
                    project_id=project_id,
                    member_id=coder_id,
                    created=created,
                    initial_score=final,
                    final_score=(final if latest else final - 1) if has_final else None,
                )
            )
        if kind != "no_result_row":
            conn.execute(
                insert(long_comp_result).values(
                    round_id=round_id,
                    coder_id=coder_id,
                    point_total=final,
                    system_point_total=final,
                    attended="N",
                    placed=0,
                    rated_ind=0,
                    advanced="N",
                )
            )
    _number_places(conn, round_id)
    return expected


def _insert_reference_rows(conn: Connection) -> None:
    """The sample schools and languages, once per database (several rounds share them)."""
    if not conn.execute(select(school.c.school_id).limit(1)).first():
        conn.execute(insert(school), [{"school_id": k, "name": v} for k, v in SAMPLE_SCHOOLS.items()])
    if not conn.execute(select(language.c.language_id).limit(1)).first():
        conn.execute(
            insert(language), [{"language_id": k, "language_name": v} for k, v in SAMPLE_LANGUAGES.items()]
        )


def _number_places(conn: Connection, round_id: int) -> None:
    """placed 1..n by system_point_total desc, point_total desc, as the legacy processor numbers them."""
    rows = conn.execute(
        select(long_comp_result.c.coder_id)
        .where(long_comp_result.c.round_id == round_id)
        .order_by(
            long_comp_result.c.system_point_total.desc(),
            long_comp_result.c.point_total.desc(),
            long_comp_result.c.coder_id,
        )
    ).all()
    for place, row in enumerate(rows, start=1):
        conn.execute(
            update(long_comp_result)
            .where(long_comp_result.c.round_id == round_id, long_comp_result.c.coder_id == row.coder_id)
            .values(placed=place)
        )


def load_sample_data(oltp_url: str) -> bool:
    """Create the OLTP schema and the sample round; returns False when it was already there."""
    engine = engine_for(oltp_url)
    create_oltp_schema(engine)
    with engine.begin() as conn:
        if conn.execute(select(round_.c.round_id).where(round_.c.round_id == SAMPLE_ROUND_ID)).first():
            return False
        insert_round(
            conn,
            round_id=SAMPLE_ROUND_ID,
            contest_id=30001,
            project_id=SAMPLE_PROJECT_ID,
            start=dt.datetime(2024, 3, 1, 12, 0),
            coders=SAMPLE_CODERS,
            seed=160,
        )
        conn.execute(insert(project).values(project_id=NON_MARATHON_PROJECT_ID, project_category_id=1))
        conn.execute(
            insert(project).values(
                project_id=UNMAPPED_MARATHON_PROJECT_ID, project_category_id=MARATHON_PROJECT_CATEGORY_ID
            )
        )
    return True
