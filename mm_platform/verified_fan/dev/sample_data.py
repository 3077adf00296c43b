"""Scored files for the embedded stack, the demo and the benchmarks: deterministic, realistic
mixes of verdicts, selections, market preferences, duplicates and a few bad rows."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

SAMPLE_CAMPAIGN: dict[str, Any] = {
    "id": "vf-sample-2027",
    "name": "Sample World Tour 2027",
    "artist": "The Sample Band",
    "type": "verified-fan",
    "date": "2027-06-01",
    "eventIds": ["ev-nyc-0601", "ev-chi-0604", "ev-lax-0610"],
}
SAMPLE_KEY = "scrubbed/vf-sample-2027.csv"
HEADER = "campaign_id,member_id,global_user_id,email,score,verdict,selected,events\n"


def scored_file(
    rows: int,
    *,
    seed: int = 1,
    campaigns: Sequence[str] = ("c1", "c2", "c3"),
    events: Sequence[str] = ("e1", "e2", "e3"),
    bad_share: float = 0.005,
    member_pool: float = 0.9,
) -> bytes:
    """A scrubbed/ file: each row's member drawn from rows x `member_pool` ids (so members repeat,
    more often the smaller the pool), verdicts mostly verified, some selected, preferences over
    `events`, about `bad_share` rows with a broken score."""
    rng = np.random.default_rng(seed)
    members = rng.integers(0, max(1, int(rows * member_pool)), rows)
    campaign = np.asarray(campaigns)[rng.integers(0, len(campaigns), rows)]
    score = np.round(rng.random(rows), 4).astype(str)
    score[rng.random(rows) < bad_share] = "n/a"
    verdict = np.array(["verified", "verified", "Verified", "rejected"])[rng.integers(0, 4, rows)]
    selected = np.array(["true", "false", "", "1", "", "", "", "no"])[rng.integers(0, 8, rows)]
    e = list(events)
    preferences = np.array(["", e[0], f"{e[0]}|{e[1 % len(e)]}", "|".join(e[::-1])])[rng.integers(0, 4, rows)]
    email = np.where(
        rng.random(rows) < 0.3, np.char.add(np.char.add("fan", members.astype(str)), "@example.org"), ""
    )
    out = io.StringIO()
    out.write(HEADER)
    for c, m, s, v, sel, ev, em in zip(
        campaign, members, score, verdict, selected, preferences, email, strict=True
    ):
        out.write(f"{c},m{m},,{em},{s},{v},{sel},{ev}\n")
    return out.getvalue().encode()


def sample_file(rows: int = 1000) -> bytes:
    """The embedded stack's sample campaign: one campaign, its events as preferences."""
    return scored_file(
        rows, seed=2027, campaigns=[SAMPLE_CAMPAIGN["id"]], events=SAMPLE_CAMPAIGN["eventIds"], bad_share=0.01
    )
