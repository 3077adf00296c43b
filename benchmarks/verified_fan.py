"""Verified Fan transform: parse + validate + rank + dedup + normalize of a scored file, vectorised
(Arrow) next to a per-row Python loop doing the same.

    .venv/bin/python benchmarks/verified_fan.py [--rows 1000000] [--loop-rows 1000000]

Target: >= 200,000 rows/s for the vectorised transform. The end-to-end figure on the embedded stack
comes with the Verified Fan assets (issue 4, in progress).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import time

from mm_platform.verified_fan.sample_data import scored_file
from mm_platform.verified_fan.scoring import EMAIL, FALSE_WORDS, SCRUBBED, TRUE_WORDS, read_csv, validate


def per_row_loop(data: bytes) -> tuple[int, int]:
    """The same rules, one row at a time (what a straightforward Lambda would do)."""
    email_re, kept, rejects = re.compile(EMAIL), {}, 0
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    for line, row in enumerate(reader, start=1):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
        key = row.get("member_id") or row.get("global_user_id")
        email, verdict, selected = (
            row.get("email", "").lower(),
            row.get("verdict", "").lower(),
            row.get("selected", "").lower(),
        )
        try:
            score = float(row["score"])
        except ValueError:
            score = None
        if (
            not row.get("campaign_id")
            or not key
            or score is None
            or not math.isfinite(score)
            or (email and not email_re.match(email))
            or verdict not in ("verified", "rejected")
            or selected not in TRUE_WORDS | FALSE_WORDS
        ):
            rejects += 1
            continue
        events = [e.strip() for e in row.get("events", "").split("|") if e.strip()]
        record = {
            "campaign_id": row["campaign_id"],
            "member_key": key,
            "score": score,
            "verdict": verdict,
            "selected": selected in TRUE_WORDS,
            "events": events,
            "rank0_event": events[0] if events else None,
            "line": line,
        }
        previous = kept.get((row["campaign_id"], key))
        if previous is None or score >= previous["score"]:
            kept[(row["campaign_id"], key)] = record
    return len(kept), rejects


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data = scored_file(args.rows)
    print(f"file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB")
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = validate(read_csv(data), SCRUBBED)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(
        f"vectorised: {best:.2f} s (best of 3), {args.rows / best:,.0f} rows/s; "
        f"{len(result.valid):,} kept, {len(result.rejects):,} rejected, {result.duplicates:,} duplicates"
    )
    if args.loop_rows:
        loop_data = data if args.loop_rows == args.rows else scored_file(args.loop_rows)
        start = time.perf_counter()
        kept, rejects = per_row_loop(loop_data)
        seconds = time.perf_counter() - start
        print(
            f"per-row loop: {seconds:.2f} s, {args.loop_rows / seconds:,.0f} rows/s; {kept:,} kept, "
            f"{rejects:,} rejected; vectorised is {seconds / best * args.rows / args.loop_rows:.1f}x faster"
        )


if __name__ == "__main__":
    main()
