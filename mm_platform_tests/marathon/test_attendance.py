from __future__ import annotations

import datetime as dt
import random

from hypothesis import given
from hypothesis import strategies as st

from mm_platform.marathon.rules.attendance import Submission, decide_attendance, latest_submissions

T0 = dt.datetime(2024, 3, 1)


def sub(member: int, hours: int, final: float | None, sid: str | None = None) -> Submission:
    return Submission(sid or f"{member}-{hours}", member, T0 + dt.timedelta(hours=hours), final)


def test_latest_submission_with_final_score_attends() -> None:
    decision = decide_attendance({1: "N"}, [sub(1, 1, None), sub(1, 5, 80.5)])
    assert decision.to_mark == [1]
    assert decision.final_submitters == [1]


def test_latest_without_final_score_does_not_attend_even_if_an_older_one_has_one() -> None:
    decision = decide_attendance({1: "N"}, [sub(1, 1, 99.0), sub(1, 5, None)])
    assert decision.to_mark == []
    assert decision.latest_without_final_score == [1]


def test_zero_is_a_final_score() -> None:
    assert decide_attendance({1: "N"}, [sub(1, 1, 0.0)]).to_mark == [1]


def test_rows_are_never_inserted_and_flags_never_taken_back() -> None:
    decision = decide_attendance({1: "Y", 2: "Y"}, [sub(1, 1, 10.0), sub(2, 1, None), sub(3, 1, 10.0)])
    assert decision.to_mark == []
    assert decision.already_attended == [1]
    assert decision.without_result_row == [3]
    assert decision.latest_without_final_score == [2]


def test_members_without_submissions_are_left_alone() -> None:
    decision = decide_attendance({1: "N", 2: "N"}, [sub(1, 1, 5.0)])
    assert decision.to_mark == [1]


def test_attended_flag_is_read_leniently() -> None:
    assert decide_attendance({1: "y "}, [sub(1, 1, 5.0)]).already_attended == [1]


def test_equal_creation_times_pick_the_same_submission_whatever_the_order() -> None:
    a, b = sub(1, 3, None, sid="a"), sub(1, 3, 7.0, sid="b")
    assert latest_submissions([a, b])[1].submission_id == "b"
    assert latest_submissions([b, a])[1].submission_id == "b"


@given(
    st.lists(
        st.tuples(st.integers(1, 8), st.integers(0, 50), st.one_of(st.none(), st.floats(0, 100))), max_size=60
    ),
    st.randoms(),
)
def test_decision_does_not_depend_on_row_order(rows, rnd: random.Random) -> None:
    submissions = [sub(m, h, f, sid=f"s{i}") for i, (m, h, f) in enumerate(rows)]
    flags = {m: "N" for m in range(1, 6)}
    shuffled = submissions[:]
    rnd.shuffle(shuffled)
    assert decide_attendance(flags, submissions) == decide_attendance(flags, shuffled)
    decision = decide_attendance(flags, submissions)
    assert set(decision.to_mark) <= set(flags)
    assert not set(decision.to_mark) & set(decision.latest_without_final_score)
