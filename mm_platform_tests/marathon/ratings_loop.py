"""The rating step written the straightforward way: one coder pair at a time, plain Python floats,
line by line as AlgorithmQubits.java does it. It is the cross-check for the vectorised engine in
`ratings.py` (the tests compare both on random rounds) and the baseline of benchmarks/ratings.py."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# the published coefficients are shared; the arithmetic below is written out independently
from mm_platform.marathon.rules.ratings import _A, _B, _C, _D


def erf(z: float) -> float:
    t = 1.0 / (1.0 + 0.5 * abs(z))
    ans = 1 - t * math.exp(
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )
    return ans if z >= 0 else -ans


def normsinv(p: float) -> float:
    if p <= 0:
        return -math.inf
    if p >= 1:
        return math.inf
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        z = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1
        )
    elif p > 1.0 - 0.02425:
        q = math.sqrt(-2 * math.log(1 - p))
        z = -(((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]) / (
            (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1
        )
    else:
        q = p - 0.5
        r = q * q
        z = (
            (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
            * q
            / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
        )
    e = 0.5 * (1.0 - erf(-z / math.sqrt(2.0))) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp((z * z) / 2.0)
    return z - u / (1.0 + z * u / 2.0)


@dataclass
class Coder:
    coder_id: int
    rating: int
    vol: int
    num_ratings: int
    score: float


def run_pass(coders: Sequence[Coder]) -> dict[int, tuple[int, int]]:
    """One run of the algorithm; coder id -> (new rating, new volatility)."""
    n = len(coders)
    ave = sum(float(c.rating) for c in coders) / n
    vtemp = sum(float(c.vol) ** 2 for c in coders)
    rtemp = sum((float(c.rating) - ave) ** 2 for c in coders)
    cf = math.sqrt(vtemp / n + rtemp / (n - 1)) if n > 1 else math.nan
    expected_perf = {}
    for i in coders:
        est = 0.5
        for j in coders:
            z = (j.rating - i.rating) / math.sqrt(2.0 * (j.vol * j.vol + i.vol * i.vol))
            est += (erf(z) + 1.0) * 0.5
        expected_perf[i.coder_id] = -normsinv((est - 0.5) / n)
    actual_perf = {}
    scores = sorted({c.score for c in coders}, reverse=True)
    above = 0
    for s in scores:
        group = [c for c in coders if c.score == s]
        for c in group:
            actual_perf[c.coder_id] = -normsinv((above + len(group) / 2.0) / n)
        above += len(group)
    out = {}
    for c in coders:
        old = float(c.rating)
        performed_as = old + (actual_perf[c.coder_id] - expected_perf[c.coder_id]) * cf
        weight = (0.60 - 0.18) / (c.num_ratings + 1) + 0.18
        weight = 1 / (1 - weight) - 1
        if 2000 <= old < 2500:
            weight = weight * 4.5 / 5.0
        if old >= 2500:
            weight = weight * 4.0 / 5.0
        new = (old + weight * performed_as) / (1 + weight)
        cap = 150 + 1500 // (2 + c.num_ratings)
        if old - new > cap:
            new = old - cap
        if new - old > cap:
            new = old + cap
        if new < 1:
            new = 1.0
        rating = 0 if math.isnan(new) else math.floor(new + 0.5)
        if c.num_ratings != 0:
            vol_raw = math.sqrt(c.vol * c.vol / (1 + weight) + (new - old) * (new - old) / weight)
            vol = 0 if math.isnan(vol_raw) else math.floor(vol_raw + 0.5)
        else:
            vol = 385
        out[c.coder_id] = (rating, vol)
    return out


def rate_round_loop(
    rows: Sequence[tuple[int, float | None, float | None, int | None, float | None]],
) -> dict[int, tuple[int, int, int, str] | None]:
    """(coder_id, old_rating, old_vol, num_ratings, score) rows in loader order -> coder id ->
    (new rating, new vol, num ratings, pass), or None for a coder a single-coder pass leaves unrated."""
    coders, new_ids = [], set()
    for coder_id, old_rating, old_vol, num_ratings, score in rows:
        n = int(num_ratings or 0)
        if n == 0 or old_rating is None:
            coders.append(Coder(coder_id, 1200, 515, 0, float(score or 0.0)))
            new_ids.add(coder_id)
        else:
            coders.append(Coder(coder_id, int(old_rating), int(old_vol or 0), n, float(score or 0.0)))
    result: dict[int, tuple[int, int, int, str] | None] = {c.coder_id: None for c in coders}
    if len(coders) >= 2 and new_ids:
        for coder_id, (rating, vol) in run_pass(coders).items():
            if coder_id in new_ids:
                result[coder_id] = (rating, vol, 1, "provisional")
    experienced = [c for c in coders if c.coder_id not in new_ids]
    if len(experienced) >= 2:
        by_id = {c.coder_id: c for c in experienced}
        for coder_id, (rating, vol) in run_pass(experienced).items():
            result[coder_id] = (rating, vol, by_id[coder_id].num_ratings + 1, "non_provisional")
    return result
