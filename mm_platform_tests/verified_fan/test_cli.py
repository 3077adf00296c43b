"""`mm-platform vf ...` against the stack a flow ran on (moto, the platform database)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from mm_platform.cli import main
from mm_platform_tests.verified_fan.conftest import TOUR, Flow


def vf(flow: Flow, *args: str) -> str:
    result = CliRunner().invoke(main, ["vf", *args], env=flow.env)
    assert result.exit_code == 0, result.output
    return result.output


def test_operators_see_files_refused_rows_and_counts_and_can_repair_them(flow: Flow, tmp_path: Path) -> None:
    file = tmp_path / "tour.csv"
    file.write_bytes(TOUR)
    assert (
        vf(flow, "upload", str(file)).strip() == f"uploaded s3://{flow.vf.scoring_bucket}/scrubbed/tour.csv"
    )
    flow.process()

    [part] = vf(flow, "files", "--campaign", "c1").splitlines()[1:]
    assert part.split()[1:6] == ["APPLIED", "c1", "7", "2", "4"]
    assert "scrubbed/tour.csv (uploaded " in part

    rejects = vf(flow, "rejects", "--campaign", "c1").splitlines()
    # which upload of the key: a re-upload's rejects are told apart by their own time and ETag
    uploads = {
        re.search(r"\(uploaded \d{4}-\d\d-\d\d \d\d:\d\d:\d\d etag \w{8}\)", r).group() for r in rejects
    }
    assert len(uploads) == 1
    assert [r.split(") ", 1)[1] for r in rejects] == [
        "campaign=c1 member=m4 [validation] score is not a number",
        "campaign=c1 member=m7 [validation] email does not look like an address",
    ]
    assert [r.split()[1] for r in rejects] == ["scrubbed/tour.csv:6", "scrubbed/tour.csv:9"]
    assert "campaign_id is empty" in vf(flow, "rejects", "--file", "scrubbed/tour.csv")

    counts = vf(flow, "counts", "c1")
    assert "stored   Counts(verified=3, rejected=1, selected=2)" in counts
    assert "(equal)" in counts and "reported Counts(verified=3, rejected=1, selected=2)" in counts

    flow.client("dynamodb").update_item(
        TableName=flow.vf.demand_table,
        Key={"PK": {"S": "campaign:c1"}, "SK": {"S": "meta:counts"}},
        UpdateExpression="ADD selected :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert "(DIFFERENT)" in vf(flow, "counts", "c1")
    repaired = vf(flow, "counts", "c1", "--repair")
    assert (
        "repaired: Counts(verified=3, rejected=1, selected=3) -> Counts(verified=3, rejected=1, selected=2)"
        in repaired
    )
    assert "(equal)" in repaired


def test_upload_refuses_keys_outside_the_watched_prefixes(flow: Flow, tmp_path: Path) -> None:
    file = tmp_path / "x.csv"
    file.write_bytes(TOUR)
    result = CliRunner().invoke(main, ["vf", "upload", str(file), "--key", "other/x.csv"], env=flow.env)
    assert result.exit_code == 1
    assert "the key must start with scrubbed/ or fanlist/scored/" in result.output
