"""The DW loads of schools, languages, submissions, country/state/school ranks and streaks, on SQLite
and PostgreSQL, checked against values recomputed here from the DW rows themselves."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, text, update

from mm_platform.core.sql import engine_for
from mm_platform.marathon.dev.sample_data import insert_round
from mm_platform.marathon.stores import dw_schema as dw
from mm_platform.marathon.stores import schema as oltp
from mm_platform.marathon.stores.dw_load import load_coders, load_round_ratings, round_coder_ids
from mm_platform.marathon.stores.dw_schema import create_dw_schema
from mm_platform.marathon.stores.schema import MARATHON_RATING_TYPE_ID, create_oltp_schema

CODER_BASE = 31_000_000
SNAPSHOT_TABLES = (
    dw.school,
    dw.current_school,
    dw.language,
    dw.long_problem_submission,
    dw.coder_rank,
    dw.country_coder_rank,
    dw.state_coder_rank,
    dw.school_coder_rank,
    dw.streak,
    dw.algo_rating_history,
)


@pytest.fixture
def engines(database: Callable[[], str]) -> tuple[Engine, Engine]:
    oltp_engine, dw_engine = engine_for(database()), engine_for(database())
    create_oltp_schema(oltp_engine)
    create_dw_schema(dw_engine)
    return oltp_engine, dw_engine


def load(engines: tuple[Engine, Engine], round_id: int) -> tuple[dict[str, int], dict[str, int]]:
    oltp_engine, dw_engine = engines
    with oltp_engine.connect() as oltp_conn, dw_engine.begin() as dw_conn:
        return load_coders(oltp_conn, dw_conn, round_id), load_round_ratings(oltp_conn, dw_conn, round_id)


def snapshot(dw_engine: Engine) -> dict[str, list[tuple]]:
    with dw_engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in SNAPSHOT_TABLES}


def rate(conn, round_id: int, attends: Callable[[int], bool], rating: Callable[[int], int]) -> None:
    """Make the round rated, as the ratings step leaves OLTP: attendees rated from their last rating."""
    conn.execute(update(oltp.round_).where(oltp.round_.c.round_id == round_id).values(rated_ind=1))
    lcr = oltp.long_comp_result
    previous = {
        r.coder_id: r.new_rating
        for r in conn.execute(select(lcr.c.coder_id, lcr.c.new_rating).where(lcr.c.round_id != round_id))
        if r.new_rating is not None
    }
    for (coder_id,) in conn.execute(select(lcr.c.coder_id).where(lcr.c.round_id == round_id)).all():
        if attends(coder_id):
            conn.execute(
                update(lcr)
                .where(lcr.c.round_id == round_id, lcr.c.coder_id == coder_id)
                .values(
                    attended="Y",
                    rated_ind=1,
                    old_rating=previous.get(coder_id),
                    new_rating=rating(coder_id),
                    new_vol=400,
                )
            )


def expected_group_ranks(dw_engine: Engine) -> dict[str, set[tuple]]:
    """Recomputed from the DW: the current rank population of each rank type, grouped, ranked by the
    latest rated round's rating as 1 + the number of group members rated strictly higher."""
    with dw_engine.connect() as conn:
        population = conn.execute(select(dw.coder_rank)).all()
        [latest] = {r.round_id for r in population}
        rating = {
            r.coder_id: r.rating
            for r in conn.execute(
                select(dw.algo_rating_history).where(dw.algo_rating_history.c.round_id == latest)
            )
        }
        coders = {r.coder_id: r for r in conn.execute(select(dw.coder))}
        schools = {r.coder_id: r.school_id for r in conn.execute(select(dw.current_school))}
    groups_of = {
        "country_coder_rank": {c: r.country_code for c, r in coders.items()},
        "state_coder_rank": {c: r.state_code for c, r in coders.items()},
        "school_coder_rank": schools,
    }
    expected: dict[str, set[tuple]] = {}
    for table, group_of in groups_of.items():
        members: dict[tuple, list[int]] = defaultdict(list)
        for r in population:
            if group_of.get(r.coder_id) is not None:
                members[(r.coder_rank_type_id, group_of[r.coder_id])].append(r.coder_id)
        expected[table] = set()
        for (rank_type, group), coders_in in members.items():
            for c in coders_in:
                rank = 1 + sum(1 for o in coders_in if rating[o] > rating[c])
                n = len(coders_in)
                expected[table].add((c, rank_type, group, rank, round(100 * (n - rank) / n, 9)))
    return expected


def group_rank_rows(dw_engine: Engine) -> dict[str, set[tuple]]:
    rows: dict[str, set[tuple]] = {}
    with dw_engine.connect() as conn:
        for table, column in (
            (dw.country_coder_rank, "country_code"),
            (dw.state_coder_rank, "state_code"),
            (dw.school_coder_rank, "school_id"),
        ):
            assert {r.algo_rating_type_id for r in conn.execute(select(table))} <= {MARATHON_RATING_TYPE_ID}
            rows[table.name] = {
                (r.coder_id, r.coder_rank_type_id, getattr(r, column), r.rank, round(r.percentile, 9))
                for r in conn.execute(select(table))
            }
    return rows


def expected_submissions(oltp_engine: Engine, round_id: int) -> set[tuple]:
    """OLTP submissions of the round; the last one is the highest number of the coder's state."""
    lcs, ls = oltp.long_component_state, oltp.long_submission
    with oltp_engine.connect() as conn:
        rows = conn.execute(
            select(lcs.c.coder_id, ls)
            .join(ls, ls.c.long_component_state_id == lcs.c.long_component_state_id)
            .where(lcs.c.round_id == round_id)
        ).all()
    highest: dict[int, int] = defaultdict(int)
    for r in rows:
        highest[r.coder_id] = max(highest[r.coder_id], r.submission_number)
    return {
        (
            round_id,
            r.coder_id,
            r.submission_number,
            r.example,
            r.submit_time,
            r.language_id,
            r.submission_points,
            int(r.submission_number == highest[r.coder_id]),
        )
        for r in rows
    }


def dw_submissions(dw_engine: Engine, round_id: int) -> set[tuple]:
    s = dw.long_problem_submission
    with dw_engine.connect() as conn:
        return {
            (
                r.round_id,
                r.coder_id,
                r.submission_number,
                r.example,
                r.submit_time,
                r.language_id,
                r.submission_points,
                r.last_submission,
            )
            for r in conn.execute(select(s).where(s.c.round_id == round_id))
        }


def current_schools(engine: Engine, table: Any, coder_ids: list[int]) -> dict[int, int]:
    with engine.connect() as conn:
        return {
            r.coder_id: r.school_id
            for r in conn.execute(select(table).where(table.c.coder_id.in_(coder_ids)))
        }


def test_two_sample_rounds_give_group_ranks_schools_and_submissions(engines: tuple[Engine, Engine]) -> None:
    oltp_engine, dw_engine = engines
    with oltp_engine.begin() as conn:
        # a year apart: the active population (rated in the 180 days up to the round) is the
        # second round's attendees only, the overall one everyone rated in either round
        for round_id, start, seed in (
            (5101, dt.datetime(2023, 1, 10), 11),
            (5102, dt.datetime(2024, 1, 10), 12),
        ):
            insert_round(
                conn,
                round_id=round_id,
                contest_id=round_id,
                project_id=45_000_000 + round_id,
                start=start,
                coders=30,
                seed=seed,
                coder_id_base=CODER_BASE,
            )
        # ratings on a coarse grid so that groups have ties
        rate(conn, 5101, attends=lambda c: c % 4 != 0, rating=lambda c: 1000 + (c * 37 % 7) * 100)
    counts_1 = load(engines, 5101)
    with oltp_engine.begin() as conn:
        rate(conn, 5102, attends=lambda c: c % 3 != 0, rating=lambda c: 1100 + (c * 53 % 6) * 100)
    coder_ids = [CODER_BASE + i for i in range(30)]
    with oltp_engine.connect() as conn:
        first_coders, round_coders = round_coder_ids(conn, 5101), round_coder_ids(conn, 5102)
    schooled = current_schools(oltp_engine, oltp.current_school, coder_ids)
    # the first round's coders only (the sample's coders without a result row are not loaded)
    assert current_schools(dw_engine, dw.current_school, coder_ids) == current_schools(
        oltp_engine, oltp.current_school, first_coders
    )
    assert 0 < len(schooled) < 30  # the sample gives some coders, not all, a school

    # one coder changes school, another leaves theirs: the next coders load replaces the DW rows
    mover, leaver = sorted(c for c in schooled if c in round_coders)[:2]
    new_school = next(s for s in (1001, 1002, 1003) if s != schooled[mover])
    with oltp_engine.begin() as conn:
        conn.execute(
            update(oltp.current_school)
            .where(oltp.current_school.c.coder_id == mover)
            .values(school_id=new_school)
        )
        conn.execute(delete(oltp.current_school).where(oltp.current_school.c.coder_id == leaver))
    coders_2, counts_2 = load(engines, 5102)
    loaded = current_schools(dw_engine, dw.current_school, coder_ids)
    assert loaded[mover] == new_school
    assert leaver not in loaded
    assert loaded == current_schools(oltp_engine, oltp.current_school, round_coders)
    assert coders_2["current_schools_loaded"] == len(
        current_schools(oltp_engine, oltp.current_school, round_coders)
    )
    with dw_engine.connect() as conn:
        assert {r.language_id: r.language_name for r in conn.execute(select(dw.language))} == {
            1: "Java",
            3: "C++",
            4: "C#",
            6: "Python",
        }
        assert {r.school_id for r in conn.execute(select(dw.school))} == set(loaded.values())

    # group ranks: the same rows as recomputed from the DW's rank population and ratings
    got, expected = group_rank_rows(dw_engine), expected_group_ranks(dw_engine)
    assert got == expected
    assert {t: len(rows) for t, rows in got.items()} == {
        "country_coder_rank": counts_2["country_ranks"],
        "state_coder_rank": counts_2["state_ranks"],
        "school_coder_rank": counts_2["school_ranks"],
    }
    # the populations differ (active is a subset) and every kind of group has members
    with dw_engine.connect() as conn:
        population = conn.execute(select(dw.coder_rank.c.coder_id, dw.coder_rank.c.coder_rank_type_id)).all()
    overall = {c for c, t in population if t == 1}
    active = {c for c, t in population if t == 2}
    assert active and active < overall
    assert all(got[t] for t in got)
    ties = {(r[1], r[2], r[3]) for r in got["country_coder_rank"]}
    assert len(ties) < len(got["country_coder_rank"])  # some coders share a rank in their country

    # submissions of both rounds, with their last-submission flags
    for round_id, counts in ((5101, counts_1[1]), (5102, counts_2)):
        submissions = dw_submissions(dw_engine, round_id)
        assert submissions == expected_submissions(oltp_engine, round_id)
        assert counts["submissions_loaded"] == len(submissions)
        assert any(r[-1] == 0 for r in submissions) and any(r[-1] == 1 for r in submissions)
        assert all(r[4] > 1_600_000_000_000 for r in submissions)  # epoch milliseconds

    # reloading either round changes nothing
    before = snapshot(dw_engine)
    load(engines, 5102)
    assert snapshot(dw_engine) == before
    load(engines, 5101)
    assert snapshot(dw_engine) == before


def _tiny_round(
    conn, round_id: int, start: dt.datetime, round_type_id: int, results: dict[int, tuple]
) -> None:
    """A hand-made rated round: results are coder -> (attended, placed, old rating, new rating)."""
    conn.execute(insert(oltp.contest).values(contest_id=round_id, name=f"c{round_id}", start_date=start))
    conn.execute(
        insert(oltp.round_).values(
            round_id=round_id, contest_id=round_id, round_type_id=round_type_id, rated_ind=1
        )
    )
    for coder_id, (attended, placed, old, new) in results.items():
        conn.execute(
            insert(oltp.long_component_state).values(
                long_component_state_id=round_id * 100 + coder_id,
                round_id=round_id,
                coder_id=coder_id,
                component_id=round_id,
                submission_number=1 if attended else 0,
            )
        )
        conn.execute(
            insert(oltp.long_comp_result).values(
                round_id=round_id,
                coder_id=coder_id,
                point_total=100 - (placed or 50),
                system_point_total=100 - (placed or 50),
                attended="Y" if attended else "N",
                placed=placed,
                old_rating=old,
                new_rating=new,
                new_vol=None if new is None else 400,
                rated_ind=1 if attended else 0,
            )
        )


def test_streaks_of_a_hand_made_sequence(engines: tuple[Engine, Engine]) -> None:
    oltp_engine, dw_engine = engines
    a, b = 11, 12
    rounds = [
        (6001, 13, {a: (True, 1, None, 1200), b: (True, 2, 1500, 1600)}),
        (6002, 19, {a: (True, 3, 1200, 1300), b: (True, 12, 1600, 1550)}),  # a tournament round
        (6003, 13, {a: (True, 7, 1300, 1400), b: (False, None, None, None)}),
        (6004, 13, {a: (True, 4, 1400, 1450), b: (True, 5, 1550, 1650)}),
    ]
    with oltp_engine.begin() as conn:
        for coder_id in (a, b):
            conn.execute(
                insert(oltp.coder).values(coder_id=coder_id, handle=f"h{coder_id}", country_code="POL")
            )
        for i, (round_id, round_type_id, results) in enumerate(rounds):
            _tiny_round(
                conn, round_id, dt.datetime(2024, 1, 1) + dt.timedelta(days=30 * i), round_type_id, results
            )
    # loaded newest first: streaks are recomputed from every DW round each time
    for round_id, _, _ in reversed(rounds):
        _, counts = load(engines, round_id)
    with dw_engine.connect() as conn:
        got = sorted(
            (r.coder_id, r.streak_type_id, r.start_round_id, r.end_round_id, r.length, r.is_current)
            for r in conn.execute(select(dw.streak))
        )
    assert got == [
        (a, 8, 6002, 6004, 3, 1),  # a first rating (6001) is no increase
        (a, 9, 6003, 6004, 2, 1),  # 6002 is a tournament round
        (a, 10, 6001, 6002, 2, 0),
        (a, 11, 6001, 6004, 4, 1),
        (b, 9, 6001, 6004, 2, 1),  # 6002's drop was in a tournament round; 6003 unrated
    ]
    assert counts["streaks"] == len(got)
    before = snapshot(dw_engine)
    load(engines, 6002)
    assert snapshot(dw_engine) == before


def test_an_older_embedded_postgresql_oltp_gets_millisecond_submit_times(pg_url: str) -> None:
    engine = engine_for(pg_url)
    with engine.begin() as conn:  # long_submission as created before times were epoch milliseconds
        conn.execute(
            text(
                "CREATE TABLE long_submission (long_component_state_id integer NOT NULL, "
                "submission_number integer NOT NULL, example integer NOT NULL DEFAULT 0, "
                "submission_text text, open_time integer, submit_time integer, "
                "submission_points numeric(14, 2), language_id integer, "
                "PRIMARY KEY (long_component_state_id, submission_number, example))"
            )
        )
    create_oltp_schema(engine)
    create_oltp_schema(engine)  # and again: nothing left to widen
    with engine.begin() as conn:
        conn.execute(
            insert(oltp.long_submission).values(
                long_component_state_id=1,
                submission_number=1,
                open_time=1_711_000_000_000,
                submit_time=1_711_000_000_001,
            )
        )
        assert conn.execute(select(oltp.long_submission.c.submit_time)).scalar_one() == 1_711_000_000_001
