from __future__ import annotations

import csv
import gzip
import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_platform.verified_fan.rules.contract import FANLIST_RECORDS, SCRUBBED_RECORDS, failing_rows
from mm_platform.verified_fan.rules.scoring import (
    FANLIST,
    REJECTED,
    SCRUBBED,
    VERIFIED,
    ZERO,
    Counts,
    FileError,
    FileTooLargeError,
    MemberState,
    contribution,
    count_delta,
    event_list,
    inflate,
    member_state,
    read_csv,
    recount,
    total,
    validate,
)

HEADER = "campaign_id,member_id,global_user_id,email,score,verdict,selected,events\n"


def scrubbed(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


def test_good_rows_are_normalized_and_ranked() -> None:
    result = validate(
        read_csv(
            scrubbed(
                "c1,m1,,A@X.COM,0.93,Verified,yes,ev9|ev2",
                "c1,,g2,,0.4,rejected,,",
            )
        ),
        SCRUBBED,
    )
    assert result.rejects.empty
    first, second = result.valid.to_dict("records")
    assert (first["member_key"], first["email"], first["verdict"], first["selected"]) == (
        "m1",
        "a@x.com",
        VERIFIED,
        True,
    )
    assert (event_list(first["events"]), first["rank0_event"]) == (["ev9", "ev2"], "ev9")
    assert (second["member_key"], second["verdict"], second["selected"], second["rank0_event"]) == (
        "g2",
        REJECTED,
        False,
        None,
    )


def test_bad_rows_are_rejected_with_reasons_and_never_block_good_rows() -> None:
    result = validate(
        read_csv(
            scrubbed(
                ",m1,,,0.5,verified,,",
                "c1,,,,0.5,verified,,",
                "c1,m3,,,high,verified,,",
                "c1,m4,,,,verified,,",
                "c1,m5,,not-an-email,0.5,verified,,",
                "c1,m6,,,0.5,maybe,,",
                "c1,m7,,,0.5,verified,perhaps,",
                "c1,m8,,,inf,verified,,",
                "c1,m9,,,0.5,verified,,",
            )
        ),
        SCRUBBED,
    )
    assert result.rejects[["row", "reason"]].values.tolist() == [
        [2, "campaign_id is empty"],
        [3, "no member_id or global_user_id"],
        [4, "score is not a number"],
        [5, "score is empty"],
        [6, "email does not look like an address"],
        [7, "verdict must be verified or rejected"],
        [8, "selected must be true/false/1/0/yes/no"],
        [9, "score is not finite"],
    ]
    assert result.valid["member_key"].tolist() == ["m9"]


def test_campaign_ids_must_serve_as_partition_keys_and_member_keys_as_dynamodb_keys() -> None:
    result = validate(
        read_csv(
            scrubbed(
                "c...1,m1,,,0.5,verified,,",
                f"{'c' * 101},m2,,,0.5,verified,,",
                f"c1,{'é' * 501},,,0.5,verified,,",  # 1,002 bytes in UTF-8
                f"{'c' * 100},{'m' * 1000},,,0.5,verified,,",
            )
        ),
        SCRUBBED,
    )
    assert result.rejects["reason"].tolist() == [
        "campaign_id must be at most 100 characters without '...' or control characters",
        "campaign_id must be at most 100 characters without '...' or control characters",
        "member key is longer than 1000 bytes",
    ]
    assert result.valid["line"].tolist() == [5]


def test_duplicates_keep_the_highest_score_and_on_ties_the_later_row() -> None:
    result = validate(
        read_csv(
            scrubbed(
                "c1,m1,,,0.2,rejected,,",
                "c1,m1,,,0.9,verified,,",
                "c1,m1,,,0.5,rejected,,",
                "c2,m1,,,0.1,rejected,,",
                "c1,m2,,,0.7,verified,,",
                "c1,m2,,,0.7,rejected,,",
            )
        ),
        SCRUBBED,
    )
    rows = {
        (r["campaign_id"], r["member_key"]): (r["score"], r["verdict"])
        for r in result.valid.to_dict("records")
    }
    assert rows == {
        ("c1", "m1"): (0.9, VERIFIED),
        ("c2", "m1"): (0.1, REJECTED),
        ("c1", "m2"): (0.7, REJECTED),
    }
    assert result.duplicates == 3
    assert result.valid_rows == {"c1": 5, "c2": 1}


def test_fanlist_files_need_no_verdict_and_fall_back_to_email() -> None:
    data = b"campaign_id,email,score\nc1,Fan@Example.org,0.8\nc1,fan@example.org,0.6\nc1,,0.5\n"
    result = validate(read_csv(data), FANLIST)
    assert result.valid[["member_key", "score"]].values.tolist() == [["fan@example.org", 0.8]]
    assert result.rejects["reason"].tolist() == ["no member_id or global_user_id or email"]


def test_gzip_extra_columns_and_header_case_are_accepted() -> None:
    data = gzip.compress(b"Campaign_ID, MEMBER_ID ,score,verdict,extra\nc1,m1,1,verified,x\n")
    result = validate(read_csv(data), SCRUBBED)
    assert result.valid["member_key"].tolist() == ["m1"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\x1f\x8b not really gzip", "broken gzip"),
        (b"\xff\xfe\x00bad", "not a UTF-8 CSV"),
    ],
)
def test_unreadable_files_fail_as_a_whole(data: bytes, message: str) -> None:
    with pytest.raises(FileError, match=message):
        read_csv(data)


def test_a_missing_required_column_fails_the_file() -> None:
    with pytest.raises(FileError, match="missing required column\\(s\\): verdict"):
        validate(read_csv(b"campaign_id,member_id,score\nc1,m1,1\n"), SCRUBBED)


@pytest.mark.parametrize(
    ("old", "new", "delta"),
    [
        (None, MemberState(VERIFIED, False), (1, 0, 0)),
        (None, MemberState(REJECTED, True), (0, 1, 1)),
        (MemberState(VERIFIED, False), MemberState(REJECTED, False), (-1, 1, 0)),
        (MemberState(REJECTED, True), MemberState(VERIFIED, True), (1, -1, 0)),
        (MemberState(VERIFIED, False), MemberState(VERIFIED, True), (0, 0, 1)),
        (MemberState(VERIFIED, True), MemberState(VERIFIED, False), (0, 0, -1)),
        (MemberState(VERIFIED, True), MemberState(VERIFIED, True), (0, 0, 0)),
        (MemberState(VERIFIED, True), None, (-1, 0, -1)),
    ],
)
def test_count_deltas_follow_the_business_rules(old, new, delta) -> None:
    assert count_delta(old, new) == delta


def test_a_member_counts_by_its_verdict_and_selection_only() -> None:
    assert contribution(MemberState(VERIFIED, True)) == Counts(1, 0, 1)
    assert contribution(MemberState(REJECTED, False)) == Counts(0, 1, 0)
    assert contribution(MemberState(None, True)) == Counts(0, 0, 1)  # a fanlist-like row: no verdict
    assert contribution(None) == ZERO
    stored = {"verdict": "verified", "selected": True, "score": 0.9, "file": "a.csv"}
    assert member_state(stored) == MemberState(VERIFIED, True)
    assert member_state({"verdict": "", "PK": "campaign:c1"}) == MemberState(None, False)
    assert member_state(None) is None


def test_counts_add_up_and_a_recount_counts_every_member_once() -> None:
    assert total([]) == ZERO
    assert total([Counts(1, 0, 1), Counts(0, 1, 0), Counts(-1, 0, 0)]) == Counts(0, 1, 1)
    members = [MemberState(VERIFIED, True), MemberState(REJECTED, True), MemberState(VERIFIED, False), None]
    assert recount(members) == Counts(2, 1, 2)
    assert recount(iter(members)) == recount(members)  # any iterable: a store streams its items


states = st.one_of(
    st.none(), st.builds(MemberState, st.sampled_from([VERIFIED, REJECTED, None]), st.booleans())
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), states), max_size=80), st.randoms())
def test_summed_deltas_equal_a_recount_after_any_sequence_of_writes(writes, rnd: random.Random) -> None:
    """Files arrive in any order, repeat, flip verdicts and deselect: the running counts stay exact."""
    current: dict[int, MemberState | None] = {}
    counts = [0, 0, 0]
    for member, new in writes:
        delta = count_delta(current.get(member), new)
        counts = [c + d for c, d in zip(counts, delta, strict=True)]
        current[member] = new
    assert tuple(counts) == recount([s for s in current.values() if s is not None])


cells = {
    "campaign_id": st.sampled_from(["c1", "c2", "", " ", "c...1", "c\t1", "c" * 101]),
    "member_id": st.sampled_from(["m1", "m2", "", "007", "é" * 501]),
    "global_user_id": st.sampled_from(["", "g1"]),
    "email": st.sampled_from(["", "a@b.co", "nope", "X@Y.ORG"]),
    "score": st.sampled_from(["0.5", "1", "-2.5e3", "", "high", "inf", ".5", "1.", "1e999", "-1E400"]),
    "verdict": st.sampled_from(["verified", "Rejected", "", "maybe"]),
    "selected": st.sampled_from(["", "true", "No", "1", "perhaps"]),
    "events": st.sampled_from(["", "e1", "e1|e2"]),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.fixed_dictionaries(cells), min_size=1, max_size=30), st.sampled_from([SCRUBBED, FANLIST]))
def test_the_pandera_contract_and_the_fast_checks_refuse_the_same_rows(rows, kind) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(cells))
    writer.writeheader()
    writer.writerows(rows)
    table = read_csv(out.getvalue().encode())
    by_schema = failing_rows(table.to_pandas(), kind)
    result = validate(table, kind)
    by_arrow = {int(r) - 2 for r in result.rejects["row"]}  # file lines: the header is line 1
    assert by_schema == by_arrow
    # what the UI shows as the column schema is what a valid row becomes
    records = SCRUBBED_RECORDS if kind == SCRUBBED else FANLIST_RECORDS
    records.validate(result.valid.astype({"score": "float64", "selected": "bool", "line": "int64"}))


def test_line_numbers_are_file_lines_past_blank_lines_and_quoted_newlines() -> None:
    data = scrubbed('c1,m1,,,0.5,verified,,"e1|', 'e2"', "", "c1,m2,,,high,verified,,")
    result = validate(read_csv(data), SCRUBBED)
    assert result.valid["line"].tolist() == [2]  # a record over two lines starts on line 2
    assert result.rejects["row"].tolist() == [5]  # after the quoted newline and a blank line


def test_a_score_that_overflows_to_infinity_is_refused_with_its_line() -> None:
    data = scrubbed("c1,m1,,,1e999,verified,,", "c1,m2,,,-1E400,verified,,", "c1,m3,,,1e300,verified,,")
    result = validate(read_csv(data), SCRUBBED)
    assert result.rejects[["row", "member_key", "reason"]].values.tolist() == [
        [2, "m1", "score is not finite"],
        [3, "m2", "score is not finite"],
    ]
    assert result.valid["member_key"].tolist() == ["m3"]


TOUR_ROWS = b"c1,m1,0.5,verified\nc1,m2,0.6,rejected\n"
SHORT_HEADER = b"campaign_id,member_id,score,verdict\n"


@pytest.mark.parametrize(
    "data",
    [
        (SHORT_HEADER + TOUR_ROWS).replace(b"\n", b"\r"),  # classic Mac line endings
        (SHORT_HEADER + TOUR_ROWS).replace(b"\n", b"\r\n"),
        b"\n" + SHORT_HEADER + TOUR_ROWS,  # a blank first line
        b" \t\n\r\n" + SHORT_HEADER + TOUR_ROWS,  # blank lines with white space
        b"\xef\xbb\xbf\n" + SHORT_HEADER + TOUR_ROWS,  # a byte order mark, then a blank line
    ],
)
def test_line_endings_and_leading_blank_lines_are_read(data: bytes) -> None:
    result = validate(read_csv(data), SCRUBBED)
    assert result.valid["member_key"].tolist() == ["m1", "m2"]
    assert result.rejects.empty
    lines = result.valid["line"].tolist()
    assert lines[1] == lines[0] + 1


def test_ragged_rows_are_refused_alone_with_their_file_line() -> None:
    data = SHORT_HEADER + b"c1,m1,0.5,verified,extra\n\nc1,m2,0.5\nc1,m3,1,verified\nc2\n"
    result = validate(read_csv(data), SCRUBBED)
    assert result.valid["member_key"].tolist() == ["m3"]
    assert result.rejects[["row", "campaign_id", "member_key", "reason"]].values.tolist() == [
        [2, "c1", "m1", "the row has 5 fields, the header 4"],
        [4, "c1", "m2", "the row has 3 fields, the header 4"],
        [6, "c2", "", "the row has 1 field, the header 4"],
    ]


def test_a_column_by_the_name_the_reader_uses_is_ignored() -> None:
    data = b"campaign_id,_file_line,member_id,score,verdict\nc1,x,m1,0.5,verified\nc1,x,m2\n"
    result = validate(read_csv(data), SCRUBBED)
    assert result.valid[["member_key", "line"]].values.tolist() == [["m1", 2]]
    assert result.rejects[["row", "member_key"]].values.tolist() == [[3, "m2"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"campaign_id,member_id,score,Score,verdict\nc1,m1,1,2,verified\n", "more than once: score"),
        (gzip.compress(SHORT_HEADER + TOUR_ROWS * 500)[:-30], "broken gzip data"),
        (b"\n\n \n", "the file is empty"),
    ],
)
def test_files_without_a_usable_header_or_body_fail_as_a_whole(data: bytes, message: str) -> None:
    with pytest.raises(FileError, match=message):
        validate(read_csv(data), SCRUBBED)


def test_inflating_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"0" * 5_000_000)
    chunks = [bomb[i : i + 4096] for i in range(0, len(bomb), 4096)]
    with pytest.raises(FileTooLargeError, match="larger than 1,000,000 bytes"):
        inflate(chunks, 1_000_000)
    with pytest.raises(FileTooLargeError):
        inflate([b"x" * 600, b"x" * 600], 1000)  # plain files too
    assert inflate(chunks, 5_000_000) == b"0" * 5_000_000
    assert inflate([b"plain ", b"text"], 100) == b"plain text"
    twice = gzip.compress(b"a") + gzip.compress(b"b")  # concatenated gzip members
    assert inflate([twice], 10) == b"ab"


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([SCRUBBED, FANLIST]))
def test_any_bytes_give_a_file_error_or_rows_and_rejects(data: bytes, kind: str) -> None:
    check_any_input(data, kind)


csv_ish = st.lists(
    st.sampled_from(
        [
            b",",
            b"\n",
            b"\r",
            b"\r\n",
            b'"',
            b"c1",
            b"m1",
            b"0.5",
            b"1e999",
            b"verified",
            b"rejected",
            b"campaign_id",
            b"member_id",
            b"score",
            b"verdict",
            b"email",
            b"\x00",
            b"\xff",
            b" ",
            b"|",
            b"a@b.co",
            b"_file_line",
        ]
    ),
    max_size=60,
).map(b"".join)


@settings(max_examples=100, deadline=None)
@given(csv_ish, st.sampled_from([SCRUBBED, FANLIST]), st.booleans())
def test_any_csv_like_bytes_give_a_file_error_or_rows_and_rejects(
    data: bytes, kind: str, zipped: bool
) -> None:
    header = b"campaign_id,member_id,email,score,verdict\n"
    check_any_input(gzip.compress(header + data) if zipped else header + data, kind)


def check_any_input(data: bytes, kind: str) -> None:
    """A file status (refused with a reason, or read) and per-row rejects with lines, never a crash."""
    try:
        result = validate(read_csv(inflate([data], 1_000_000)), kind)
    except FileError as exc:
        assert str(exc)
        return
    assert result.rows_in == len(result.valid) + len(result.rejects) + result.duplicates
    assert all(result.rejects["reason"] != "")
    lines = result.rejects["row"].tolist() + result.valid["line"].tolist()
    assert all(line >= 2 for line in lines)
    assert len(set(lines)) == len(lines)
    assert all(abs(s) < float("inf") for s in result.valid["score"])
