"""A campaign step over its due parts: done only when its work succeeded (ledger on SQLite, S3 in memory)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mm_platform.core.sql import engine_for
from mm_platform.verified_fan.rules.scoring import SCRUBBED, read_csv, validate
from mm_platform.verified_fan.stores.ledger import APPLIED_AT, PUBLISHED, Ledger
from mm_platform.verified_fan.stores.staging import put_part
from mm_platform.verified_fan.stores.steps import due_step
from mm_platform_tests.verified_fan.conftest import csv_bytes


class MemoryS3:
    """put_object / get_object, all `staging` needs."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:
        self.objects[(Bucket, Key)] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        body = self.objects[(Bucket, Key)]
        return {"Body": type("Body", (), {"read": lambda self: body})()}


def stage(ledger: Ledger, s3: MemoryS3, object_key: str, order: str, rows: list[list[Any]]) -> None:
    records = validate(read_csv(csv_bytes(rows)), SCRUBBED).valid
    uri = put_part(s3, "staging", f"{object_key}.parquet", records)
    ledger.replace_parts(
        f"{object_key}@etag@{order}",
        [
            {
                "object_key": object_key,
                "kind": SCRUBBED,
                "campaign_id": "c1",
                "upload_order": order,
                "inbox_id": None,
                "staged_uri": uri,
                "rows_in": len(records),
                "valid": len(records),
                "invalid": 0,
                "duplicates": 0,
                "records": len(records),
                "rank0": 0,
            }
        ],
    )


@pytest.fixture
def staged(tmp_path: Path) -> tuple[Ledger, MemoryS3]:
    ledger, s3 = Ledger(engine_for(f"sqlite:///{tmp_path}/platform.db")), MemoryS3()
    stage(ledger, s3, "b.csv", "2", [["c1", "m1", "", "", "0.1", "rejected", "", ""]])
    stage(ledger, s3, "a.csv", "1", [["c1", "m1", "", "", "0.9", "verified", "", "ev1"]])
    return ledger, s3


def test_a_step_that_succeeds_marks_its_parts_done(staged: tuple[Ledger, MemoryS3]) -> None:
    ledger, s3 = staged
    with due_step(ledger, s3, "c1", SCRUBBED, PUBLISHED, "run-1") as work:
        assert [p.object_key for p in work.parts] == ["a.csv", "b.csv"]  # upload order
        assert [(r["member_key"], r["verdict"]) for chunk in work.slices() for r in chunk] == [
            ("m1", "rejected")  # the later file wins
        ]
        assert ledger.due("c1", SCRUBBED, PUBLISHED) == work.parts  # not done before the block ends
    assert ledger.due("c1", SCRUBBED, PUBLISHED) == []
    # the next step takes the parts the previous one did
    assert len(ledger.due("c1", SCRUBBED, APPLIED_AT, after=PUBLISHED)) == 2


def test_a_step_that_fails_leaves_its_parts_due(staged: tuple[Ledger, MemoryS3]) -> None:
    ledger, s3 = staged
    with (
        pytest.raises(RuntimeError, match="service down"),
        due_step(ledger, s3, "c1", SCRUBBED, PUBLISHED, "run-1") as work,
    ):
        assert len(work.parts) == 2
        raise RuntimeError("service down")
    assert len(ledger.due("c1", SCRUBBED, PUBLISHED)) == 2
    with due_step(ledger, s3, "c1", SCRUBBED, APPLIED_AT, "run-2", after=PUBLISHED) as work:
        assert work.parts == [] and work.records.empty  # not published yet: not due for the next step


def test_a_step_keeps_what_it_refused_with_file_and_line(staged: tuple[Ledger, MemoryS3]) -> None:
    ledger, s3 = staged
    with due_step(ledger, s3, "c1", SCRUBBED, PUBLISHED, "run-1") as work:
        for chunk in work.slices():
            work.refuse(chunk, [], "dynamodb")
            work.refuse(chunk, [("m1", "item too large")], "dynamodb")
    [reject] = ledger.rejects(campaign_id="c1")
    assert (reject["object_key"], reject["line"], reject["kind"], reject["stage"], reject["reason"]) == (
        "b.csv",
        2,
        SCRUBBED,
        "dynamodb",
        "item too large",
    )


def test_a_ledger_made_before_attempts_were_counted_gets_the_new_columns(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from mm_platform.verified_fan.stores.ledger import staged_part

    url = f"sqlite:///{tmp_path}/old.db"
    old = sa.MetaData()
    sa.Table(
        staged_part.name,
        old,
        *(
            sa.Column(c.name, c.type, primary_key=c.primary_key)
            for c in staged_part.columns
            if c.name not in ("attempts", "last_error")
        ),
    )
    old.create_all(sa.create_engine(url))
    ledger = Ledger(engine_for(url))
    s3 = MemoryS3()
    stage(ledger, s3, "a.csv", "1", [["c1", "m1", "", "", "0.5", "verified", "", ""]])
    [part] = ledger.parts()
    assert (part.attempts, part.last_error) == (0, None)
